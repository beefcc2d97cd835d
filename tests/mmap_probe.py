"""How many bytes glibc's mmapped chunks grow by when a fresh process allocates a 64 MiB tensor
(above glibc's largest mmap threshold, like the paper-scale activations), read with mallinfo2:
shared by the allocator tests of training and of the process-settings context."""

from __future__ import annotations

import platform
import subprocess
import sys

_CHILD = r'''
import ctypes, sys, torch
class MI2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MI2
from himnet_lib.utils.device import tune_cpu_allocator
if sys.argv[1] == "tuned":
    assert tune_cpu_allocator()
elif sys.argv[1] == "restored":  # tuned inside the context, undone when it exits
    from himnet_lib.utils.process_state import restored_process_settings
    with restored_process_settings():
        assert tune_cpu_allocator()
before = libc.mallinfo2().hblkhd
t = torch.empty(64 << 20, dtype=torch.uint8)
print(libc.mallinfo2().hblkhd - before)
'''

MODES = ("default", "tuned", "restored")


def has_mallinfo2() -> bool:
    if not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"):
        return False
    major, minor = (int(v) for v in platform.libc_ver()[1].split(".")[:2])
    return (major, minor) >= (2, 33)


def mmap_growth(mode: str) -> int:
    """Bytes of mmapped chunks a 64 MiB allocation adds in a fresh process (``mode``: MODES)."""
    assert mode in MODES, mode
    proc = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{mode} child failed:\n{proc.stderr}"
    return int(proc.stdout.strip().splitlines()[-1])
