"""Loading ``.npy`` files without running code from them.

The W-TALC / CO2-Net annotation and feature files are pickled NumPy *object* arrays written by
Python 2. ``np.load(allow_pickle=True)`` would execute whatever callable such a pickle names, so a
downloaded bundle could run ``os.system``. Here the ``.npy`` header is parsed with
:mod:`numpy.lib.format` and the payload is unpickled by :class:`RestrictedUnpickler`, which admits
only the globals needed to rebuild plain numpy data (arrays, dtypes, scalars) and builtin containers.
Arrays with a plain dtype are read by numpy directly (no pickle involved).
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npformat

from himnet_lib.utils.errors import DataError

try:  # numpy >= 2 moved the C module; pickles written by numpy 1.x still name ``numpy.core``
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as _numeric  # type: ignore[no-redef]

# Python 3 pickles of ``bytes`` at protocol <= 2 go through ``_codecs.encode(text, "latin1")``.
def _codecs_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise pickle.UnpicklingError(f"refused _codecs.encode({type(obj).__name__}, {encoding!r})")
    return obj.encode(encoding, errors)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _codecs_encode,
}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED[(_mod, "scalar")] = _multiarray.scalar
# Protocol-5 pickles of arrays rebuild them with ``numpy._core.numeric._frombuffer(buf, dtype, shape, order)``.
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _numeric._frombuffer  # type: ignore[attr-defined]  # private, not in the stubs
for _mod in ("builtins", "__builtin__"):  # Python 3 / Python 2 module names
    for _name, _obj in (("list", list), ("tuple", tuple), ("str", str), ("bytes", bytes),
                        ("float", float), ("int", int), ("bool", bool), ("complex", complex),
                        ("bytearray", bytearray)):
        _ALLOWED[(_mod, _name)] = _obj
_ALLOWED[("__builtin__", "unicode")] = str
_ALLOWED[("__builtin__", "long")] = int


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the plain-numpy globals listed in ``_ALLOWED``."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not plain numpy data") from None


def restricted_loads(data: bytes, *, encoding: str = "bytes") -> Any:
    """Unpickle ``data`` admitting plain numpy data only (see module docstring)."""
    return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()


def _read_header(fh: BinaryIO, path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = npformat.read_magic(fh)
        if version == (1, 0):
            return npformat.read_array_header_1_0(fh)
        # 2.0 and 3.0 differ only in the header length field / its text encoding
        return npformat.read_array_header_2_0(fh)
    except Exception as e:  # numpy's header parser raises ValueError, EOFError, SyntaxError, tokenize errors...
        raise DataError(f"not a valid .npy file: {type(e).__name__}: {e}", file=str(path)) from None


def load_npy(path: str | os.PathLike, *, mmap_mode: str | None = None, encoding: str = "bytes") -> np.ndarray:
    """Load an ``.npy`` file; object arrays go through the restricted unpickler.

    ``encoding="bytes"`` keeps Python-2 ``str`` objects as ``bytes`` (the W-TALC files store class
    and video names that way; numeric payloads need it too). ``mmap_mode`` applies to plain
    (non-object) arrays only. Raises :class:`DataError` naming the file on any failure.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("missing file", file=str(path))
    try:
        fh = open(path, "rb")
    except OSError as e:
        raise DataError(f"cannot read the file: {e.strerror or e}", file=str(path)) from None
    with fh:
        shape, fortran, dtype = _read_header(fh, path)
        if not dtype.hasobject:
            need = int(np.prod(shape, dtype=object)) * dtype.itemsize  # exact: no overflow for any header
            have = os.fstat(fh.fileno()).st_size - fh.tell()
            if need != have:
                raise DataError(f"the header promises {need} bytes of {dtype} data of shape {shape}, the file "
                                f"holds {have}", file=str(path))
            fh.close()
            try:
                return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)  # type: ignore[arg-type]  # np.load checks it
            except (ValueError, OSError) as e:
                raise DataError(f"cannot read array data: {e}", file=str(path)) from None
        payload = fh.read()
    try:
        arr = restricted_loads(payload, encoding=encoding)
    except pickle.UnpicklingError as e:
        raise DataError(f"refused to unpickle: {e}", file=str(path)) from None
    except Exception as e:  # truncated or corrupt pickle streams raise many types
        raise DataError(f"corrupt pickled array ({type(e).__name__}: {e})", file=str(path)) from None
    if not isinstance(arr, np.ndarray) or arr.shape != tuple(shape):
        got = arr.shape if isinstance(arr, np.ndarray) else type(arr).__name__
        raise DataError(f"pickled payload {got} does not match header shape {shape}", file=str(path))
    return arr


def save_object_array(fh: BinaryIO, arr: np.ndarray, *, protocol: int = 4) -> None:
    """Write ``arr`` as a ``.npy`` (format 1.0 header + pickle at a fixed protocol).

    ``np.save`` picks the pickle protocol and header version itself; fixing both here keeps the
    synthetic benchmark byte-identical for a given seed across numpy releases.
    """
    if not arr.dtype.hasobject:
        arr = np.ascontiguousarray(arr)
    npformat.write_array_header_1_0(fh, npformat.header_data_from_array_1_0(arr))
    if arr.dtype.hasobject:
        pickle.dump(arr, fh, protocol=protocol)
    else:
        fh.write(arr.tobytes(order="C"))
