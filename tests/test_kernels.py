"""Notebook kernels started side by side (himnet_lib.engine.kernels): eight kernels, four in each of two
processes, are started through ``notebook_exec.execute_notebook`` at the same instant; every one
runs its notebook, none collides with another, and none prints ipykernel's "running over TCP without
encryption" warning (which a kernel over jupyter_client's default TCP transport, started beside
them as the control, does print)."""

from __future__ import annotations

import gc
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from himnet_lib.utils.paths import PROJECT_ROOT

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("papermill")
kernels = pytest.importorskip("himnet_lib.engine.kernels")

PROCESSES, THREADS = 2, 4  # 8 kernels: across processes (spawned notebook workers) and within one (threads)
WARNING = "without encryption"

# argv: notebook, output folder, threads, "himnet" (notebook_exec.execute_notebook) or "tcp"
# (papermill with jupyter_client's default kernel manager). Prints "ready" once imported; when stdin says "go", each
# thread executes the notebook and prints the time it started and the kernel's own line.
SCRIPT = r"""
import sys, threading, time
from pathlib import Path
import nbformat, papermill
from himnet_lib.engine.notebook_exec import execute_notebook
src, outdir, threads, how = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def one(i):
    out = outdir / f"out{i}.ipynb"
    t = time.time()
    if how == "himnet":
        execute_notebook(src, out, {})
    else:
        papermill.execute_notebook(src, str(out), kernel_name="python3", progress_bar=False)
    print(t, nbformat.read(out, as_version=4).cells[0].outputs[0]["text"].strip(), flush=True)
print("ready", flush=True)
sys.stdin.readline()
workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
"""

CELL = "import json, os\nfrom ipykernel.kernelapp import IPKernelApp\n" \
       "app = IPKernelApp.instance()\n" \
       "print(json.dumps({'pid': os.getpid(), 'transport': app.transport, 'ip': app.ip}))"


@pytest.fixture
def notebook(tmp_path) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    path = tmp_path / "kernel_info.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_eight_kernels_started_at_once(notebook, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    jobs = [("himnet", THREADS)] * PROCESSES + [("tcp", 1)]
    procs = []
    for i, (how, threads) in enumerate(jobs):
        outdir = tmp_path / str(i)
        outdir.mkdir()
        procs.append(subprocess.Popen([sys.executable, "-c", SCRIPT, str(notebook), str(outdir), str(threads), how],
                                      env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    try:
        for p in procs:  # every process has imported papermill and himnet_lib: then all kernels start at once
            assert p.stdout.readline().strip() == "ready", p.communicate()[1][-3000:]
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=300)
            results.append((p.returncode, out, err))
    finally:
        for p in procs:
            p.kill()

    ours, control, starts = [], [], []
    for (how, threads), (rc, out, err) in zip(jobs, results):
        assert rc == 0, f"{how} kernel failed:\n{err[-3000:]}"
        lines = out.strip().splitlines()
        assert len(lines) == threads, out
        for line in lines:
            t, info = line.split(" ", 1)
            starts.append(float(t))
            (ours if how == "himnet" else control).append(json.loads(info))
        if how == "himnet":
            assert WARNING not in err and "Address already in use" not in err, err[-3000:]
        else:
            assert WARNING in err  # the check above can fail: ipykernel does warn over TCP
    assert len(ours) == PROCESSES * THREADS
    assert max(starts) - min(starts) < 5, starts  # the kernels were started together
    assert len({i["pid"] for i in ours + control}) == len(ours) + 1
    assert {i["transport"] for i in ours} == {"ipc"} and control[0]["transport"] == "tcp"
    assert len({i["ip"] for i in ours}) == len(ours)  # a socket folder each


def test_kernel_sockets_are_private_and_removed():
    import asyncio

    if not kernels.ipc_available():
        pytest.skip("no Unix sockets on this platform")

    async def run():
        km = kernels.LocalKernelManager(kernel_name="python3")
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=120)
            reply = await kc.execute_interactive("x = 6 * 7", timeout=60)
            assert reply["content"]["status"] == "ok"
            folder = Path(km.ip).parent
            info = json.loads(Path(km.connection_file).read_text())
            sockets = sorted(p.name for p in folder.iterdir() if stat.S_ISSOCK(p.stat().st_mode))
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
        return km, folder, info, sockets

    km, folder, info, sockets = asyncio.run(run())
    assert info["transport"] == "ipc" and Path(info["ip"]).parent == folder
    assert Path(km.connection_file).parent == folder
    assert len(sockets) == 5, sockets  # shell, iopub, stdin, control, heartbeat
    assert folder.stat().st_mode & 0o777 == 0o700  # (jupyter_client adds the sticky bit)
    assert not any(p.name.startswith("kernel-") for p in folder.iterdir())  # jupyter_client removed the sockets
    del km
    gc.collect()
    assert not folder.exists()


def test_socket_folder_fits_a_unix_socket_path(monkeypatch, tmp_path):
    long_tmp = tmp_path / ("x" * 120)
    long_tmp.mkdir()
    monkeypatch.setattr(kernels.tempfile, "tempdir", str(long_tmp))
    folder = kernels._socket_folder()
    try:
        assert len(os.path.join(folder, f"{kernels.SOCKET_NAME}-5")) <= kernels.SOCKET_PATH_MAX
        assert not folder.startswith(str(long_tmp))
    finally:
        os.rmdir(folder)
