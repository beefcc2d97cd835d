"""Restricted unpickling of .npy files: malicious pickles refused, real W-TALC files accepted."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from numpy.lib import format as npformat

from himnet_lib.datasets.safe_npy import load_npy, restricted_loads, save_object_array
from himnet_lib.utils.errors import DataError


def npy_with_payload(path, payload: bytes, shape=(1,)):
    """A well-formed object-array header followed by a hand-written pickle payload."""
    buf = io.BytesIO()
    npformat.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": shape})
    path.write_bytes(buf.getvalue() + payload)
    return path


def test_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"
    # Protocol-0 pickle: GLOBAL os.system, MARK, STRING cmd, TUPLE, REDUCE, STOP.
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    f = npy_with_payload(tmp_path / "evil.npy", payload)
    with pytest.raises(DataError) as e:
        load_npy(f)
    assert "evil.npy" in str(e.value) and "os.system" in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("module,name", [("posix", "system"), ("builtins", "eval"), ("builtins", "getattr"),
                                         ("numpy", "load"), ("numpy.lib.format", "open_memmap"),
                                         ("subprocess", "Popen"), ("copyreg", "_reconstructor")])
def test_refuses_other_globals(tmp_path, module, name):
    payload = f"c{module}\n{name}\n(S'x'\ntR.".encode()
    with pytest.raises(DataError, match=f"{module}.{name}"):
        load_npy(npy_with_payload(tmp_path / "x.npy", payload))


def test_refuses_stack_global_in_protocol_4(tmp_path):
    class Evil:
        def __reduce__(self):
            import os
            return (os.getcwd, ())

    arr = np.empty(1, dtype=object)
    arr[0] = Evil()
    buf = io.BytesIO()
    save_object_array(buf, arr)
    (tmp_path / "e.npy").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="getcwd"):
        load_npy(tmp_path / "e.npy")


def test_codecs_encode_only_latin1():
    ok = pickle.dumps(np.array([b"ab", b"c"], dtype=object), protocol=2)  # Python 3 bytes -> _codecs.encode
    assert b"_codecs" in ok
    assert restricted_loads(ok).tolist() == [b"ab", b"c"]
    evil = b"c_codecs\nencode\n(S'eA=='\nS'base64'\ntR."
    with pytest.raises(pickle.UnpicklingError):
        restricted_loads(evil)


def test_plain_numpy_round_trip(tmp_path):
    arr = np.empty(3, dtype=object)
    arr[0] = np.arange(6, dtype=np.float32).reshape(2, 3)
    arr[1] = [[1.5, 2.5], [3.0, 4.0]]
    arr[2] = [b"Jump", "Run", np.float64(2.0), 7, (1, 2), True]
    for proto in (2, 3, 4, 5):
        buf = io.BytesIO()
        save_object_array(buf, arr, protocol=proto)
        (tmp_path / "a.npy").write_bytes(buf.getvalue())
        got = load_npy(tmp_path / "a.npy")
        assert got.dtype == object and got.shape == (3,)
        np.testing.assert_array_equal(got[0], arr[0])
        assert got[1] == arr[1] and got[2] == arr[2]


def test_non_object_arrays_load_without_pickle(tmp_path):
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(load_npy(tmp_path / "x.npy"), x)
    m = load_npy(tmp_path / "x.npy", mmap_mode="r")
    assert isinstance(m, np.memmap) and m.shape == (5, 4)
    np.save(tmp_path / "s.npy", np.array([b"a", b"bc"]))
    assert load_npy(tmp_path / "s.npy").tolist() == [b"a", b"bc"]


def test_corrupt_files(tmp_path):
    (tmp_path / "t.npy").write_bytes(b"not an npy file at all")
    with pytest.raises(DataError, match="t.npy"):
        load_npy(tmp_path / "t.npy")
    f = npy_with_payload(tmp_path / "trunc.npy", pickle.dumps(np.zeros(1, dtype=object), protocol=2)[:-8])
    with pytest.raises(DataError, match="trunc.npy"):
        load_npy(f)
    f = npy_with_payload(tmp_path / "shape.npy", pickle.dumps(np.zeros(2, dtype=object), protocol=2))
    with pytest.raises(DataError, match="header shape"):
        load_npy(f)
    with pytest.raises(DataError, match="missing file"):
        load_npy(tmp_path / "absent.npy")


def test_accepts_real_files(real_data_dir):
    files = sorted(real_data_dir.glob("*/*.npy"))
    assert len(files) >= 10
    for f in files:
        got = load_npy(f)
        ref = np.load(f, allow_pickle=True, encoding="bytes")  # trusted reference files
        assert got.dtype == ref.dtype and got.shape == ref.shape, f
        if ref.dtype == object:
            assert got.tolist() == ref.tolist(), f
        else:
            np.testing.assert_array_equal(got, ref)
    segs = load_npy(real_data_dir / "thumos14reduced" / "labels.npy")
    assert segs[0][0] == b"Billiards"  # Python-2 str kept as bytes
