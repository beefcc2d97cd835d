"""No leftovers, readable results: atomic writes give the umask's permissions (as open() would),
remove their temporary file on every exit path, and clean stale ones of killed writers."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from himnet_lib.cli import main
from himnet_lib.utils.fileio import STALE_TMP_SECONDS, atomic_write, atomic_write_text


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize("mask,want", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_get_the_umask_permissions(tmp_path, umask, mask, want):
    umask(mask)
    p = atomic_write_text(tmp_path / "a.json", "{}\n")
    with open(tmp_path / "plain", "w"):
        pass
    assert _mode(p) == want == _mode(tmp_path / "plain")


def test_failed_write_leaves_no_temporary_file_and_the_old_file(tmp_path):
    p = atomic_write_text(tmp_path / "a.txt", "good\n")

    def boom(f):
        f.write(b"half")
        raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError):
        atomic_write(p, boom)
    assert p.read_text() == "good\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.txt"]


def test_stale_temporary_files_of_killed_writers_are_cleaned(tmp_path):
    stale = tmp_path / ".outputs.npz.abc123.tmp"
    fresh = tmp_path / ".outputs.npz.def456.tmp"
    other = tmp_path / ".predictions.json.aaa.tmp"
    for f in (stale, fresh, other):
        f.write_bytes(b"partial")
    old = time.time() - STALE_TMP_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_write(tmp_path / "outputs.npz", lambda f: f.write(b"x"))
    assert not stale.exists()            # this writer's leftover, old enough to be dead
    assert fresh.exists()                # may belong to a writer still running
    assert other.exists()                # another file's writer cleans its own


def test_run_records_are_readable_by_the_group_and_others(smoke_root, tmp_path, umask):
    run = tmp_path / "run"
    assert main(["train", "--profile", "smoke", "--threads", "1", "--iterations", "8", "--data", str(smoke_root),
                 "--out", str(run)]) == 0
    names = ("params.json", "metrics.json", "predictions.json", "outputs.npz", "checkpoint.pt", "history.csv")
    assert {n: oct(_mode(run / n)) for n in names} == {n: oct(0o644) for n in names}
    assert not list(run.glob(".*.tmp"))


def test_synthetic_benchmark_folder_gets_the_umask_permissions(tmp_path, umask):
    from himnet_lib.datasets.synthetic.writer import make_synthetic
    umask(0o027)
    root = make_synthetic("smoke", seed=0, out=tmp_path / "b")
    assert _mode(root) == 0o750
    assert all(_mode(f) == 0o640 for f in root.rglob("*") if f.is_file())
