"""Kernels for notebooks executed on this machine (papermill in ``notebook_exec.execute_notebook``).

A kernel over TCP gets its five ports from ``jupyter_client``, which binds each to port 0, reads
the number and closes it again; the kernel binds them a moment later. Kernels started side by side
(several notebooks at once, ``make demo``) can be handed the same free port in between, and one of
them dies with ``ZMQError: Address already in use``. ``LocalKernelManager`` uses the IPC transport
instead: the kernel's channels are Unix sockets in a folder that ``tempfile.mkdtemp`` creates for
that kernel alone (mode 0700), so no two kernels can name the same socket and no other user can
connect. ipykernel warns about TCP without encryption; over IPC it has nothing to warn about.

``make lab``'s kernels get the same (``himnet_lib.engine.lab.CheckoutKernelManager``). Where Unix sockets
are not available (Windows), the managers keep jupyter_client's TCP default.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from typing import Any

from jupyter_client.manager import AsyncKernelManager, KernelManager

# The longest Unix socket path the kernel may have to bind: 107 bytes on Linux, 103 on macOS.
SOCKET_PATH_MAX = 103
SOCKET_NAME = "kernel"  # the channels are <folder>/kernel-1 ... kernel-5


def ipc_available() -> bool:
    """Whether kernels can listen on Unix sockets here."""
    return os.name == "posix"


def _socket_folder() -> str:
    """A new private folder for one kernel's sockets, under a temporary folder short enough for
    Unix socket paths (``$TMPDIR`` on clusters and macOS can be long)."""
    for base in (tempfile.gettempdir(), "/tmp"):
        # mkdtemp's name: the prefix and 8 random characters; then "/kernel-N"
        if len(os.path.join(base, "himnet-kernel-12345678", f"{SOCKET_NAME}-9")) <= SOCKET_PATH_MAX \
                and os.path.isdir(base):
            return tempfile.mkdtemp(prefix="himnet-kernel-", dir=base)
    raise OSError(f"no temporary folder short enough for a kernel's Unix sockets (TMPDIR={tempfile.gettempdir()})")


def use_private_sockets(km: KernelManager) -> None:
    """Make ``km`` (a kernel manager whose kernel has not started) start its kernel on Unix sockets
    in a folder of its own; the connection file goes there too unless ``km`` already names one.
    The folder is removed when ``km`` is garbage collected or the process exits (jupyter_client
    removes the sockets, and a connection file it wrote, when the kernel shuts down)."""
    if not ipc_available():
        return
    folder = _socket_folder()
    weakref.finalize(km, shutil.rmtree, folder, True)
    km.transport = "ipc"
    km.ip = os.path.join(folder, SOCKET_NAME)
    if not km.connection_file:
        km.connection_file = os.path.join(folder, "connection.json")


class LocalKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel listens on Unix sockets in a folder of its own."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        use_private_sockets(self)
