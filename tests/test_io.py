"""Atomic writes and the run outputs' .npz writer."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from himnet_lib.utils.fileio import atomic_write, write_npz


def test_write_npz_round_trips_through_np_load(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"video_a/attention": rng.random(37, dtype=np.float32),
              "video_a/cas": rng.standard_normal((37, 21)).astype(np.float32),
              "video_b/cas": np.zeros((0, 21), np.float32),
              "ints": np.arange(5, dtype=np.int64)}
    path = tmp_path / "outputs.npz"
    atomic_write(path, lambda f: write_npz(f, arrays))
    with np.load(path) as got:
        assert sorted(got.files) == sorted(arrays)
        for k, a in arrays.items():
            assert got[k].dtype == a.dtype and np.array_equal(got[k], a), k
    with zipfile.ZipFile(path) as z:  # deflated members, as np.savez_compressed writes them
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}


def test_write_npz_refuses_object_arrays_and_leaves_no_file(tmp_path):
    path = tmp_path / "outputs.npz"
    with pytest.raises(ValueError):
        atomic_write(path, lambda f: write_npz(f, {"x": np.array([{"a": 1}], dtype=object)}))
    assert not path.exists() and not list(tmp_path.iterdir())
