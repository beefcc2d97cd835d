"""Checks as a user without root's privileges: a read-only results folder, an unreadable data folder
(or file) and an unwritable --out each get one stderr line naming the path, exit status 2, before
any work, and nothing is created.

The suite runs as root in CI, and root writes anywhere, so the commands run with privileges
dropped by ``setpriv``: as the user ``nobody`` (uid 65534) when that user can run this checkout's
interpreter, else as uid 0 without any capability (no CAP_DAC_OVERRIDE: the permission bits bind
root like any owner). Run by another user, the suite needs neither. The test skips, saying why, only
where neither way is possible (no setpriv, capabilities that cannot be dropped), and it first checks
that the dropped process really cannot write the read-only folder, so it never passes vacuously.
``python tests/test_unprivileged.py`` prints the rows of docs/bad_inputs.md's table of these cases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import pytest
from child_env import child_env

NOBODY = 65534
HIMNET = [sys.executable, "-m", "himnet_lib"]


def _probe(prefix: list[str], env: dict, ro: Path) -> str | None:
    """Why ``prefix`` cannot serve (None: it runs the interpreter with himnet_lib, and cannot write ``ro``)."""
    code = f"import himnet_lib.cli, torch\ntry:\n    open({str(ro / 'x')!r}, 'w')\nexcept PermissionError:\n    " \
           "print('denied')"
    try:
        p = subprocess.run(prefix + [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    except OSError as e:
        return str(e)
    if p.returncode != 0:
        return (p.stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1]
    return None if p.stdout.strip() == "denied" else f"{ro} (mode 555) was writable"


class Unprivileged:
    """Runs himnet as a user who cannot write a read-only folder (see the module docstring)."""

    def __init__(self, work: Path):
        self.work = work
        self.env = child_env(work)
        self.env.update(HOME=str(work / "home"), MPLCONFIGDIR=str(work / "home" / "mpl"), PYTHONDONTWRITEBYTECODE="1")
        (work / "home").mkdir()
        ro = work / "probe-ro"
        ro.mkdir()
        ro.chmod(0o555)
        self.prefix: list[str] = []
        self.who = f"uid {os.geteuid()}"
        if os.geteuid() != 0:
            why = _probe([], self.env, ro)
            if why:
                pytest.skip(f"this user writes a read-only folder ({why}): nothing to check")
            return
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.skip("running as root without setpriv (util-linux) to drop privileges")
        ways = {"user nobody (uid 65534)": [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                                            "--inh-caps=-all", "--"],
                "uid 0 without capabilities": [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--"]}
        reasons = []
        for who, prefix in ways.items():
            why = _probe(prefix, self.env, ro)
            if why is None:
                self.prefix, self.who = prefix, who
                if who.startswith("user nobody"):
                    for path in [work, *work.rglob("*")]:  # the user's own files, as a user's would be
                        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
                return
            reasons.append(f"{who}: {why}")
        pytest.skip("cannot drop root's privileges here: " + "; ".join(reasons))

    def himnet(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run(self.prefix + HIMNET + [str(a) for a in args], env=self.env, cwd=self.work,
                              capture_output=True, text=True, timeout=300)


def _lay_out(work: Path, smoke: Path, run: Path) -> dict[str, Path]:
    """The folders of the cases (as their user's: see Unprivileged), permissions set after the chown."""
    shutil.copytree(smoke, work / "data")
    shutil.copytree(smoke, work / "secret")
    shutil.copytree(smoke, work / "half")
    shutil.copytree(run, work / "run")
    for name in ("ro", "ro-out"):
        (work / name).mkdir()
    return {k: work / k for k in ("data", "secret", "half", "run", "ro", "ro-out")}


def _restrict(p: dict[str, Path]) -> None:
    (p["secret"]).chmod(0o000)
    next(p["half"].glob("*-I3D-JOINTFeatures.npy")).chmod(0o000)
    for name in ("ro", "ro-out"):
        p[name].chmod(0o555)


# (what is tried, argv from the paths, the texts the one line holds)
CASES: list[tuple[str, Callable[[dict[str, Path]], list], Callable[[dict[str, Path]], tuple[str, ...]]]] = [
    ("`reproduce --results` a read-only folder",
     lambda p: ["reproduce", "--profile", "smoke", "--seeds", "1", "--results", p["ro"]],
     lambda p: ("--results", str(p["ro"]), "Permission denied", "not writable")),
    ("`reproduce --results` a new folder inside a read-only one",
     lambda p: ["reproduce", "--profile", "smoke", "--seeds", "1", "--results", p["ro"] / "smoke"],
     lambda p: ("--results", str(p["ro"] / "smoke"), str(p["ro"]), "Permission denied")),
    ("`train --data` an unreadable data folder",
     lambda p: ["train", "--profile", "smoke", "--data", p["secret"], "--out", p["ro-out"].parent / "new-run"],
     lambda p: ("--data", str(p["secret"]), "Permission denied")),
    ("`check-data` an unreadable data folder", lambda p: ["check-data", p["secret"]],
     lambda p: (str(p["secret"]), "Permission denied")),
    ("`evaluate --gt` an unreadable data folder", lambda p: ["evaluate", "--gt", p["secret"], "--pred", p["ro"]],
     lambda p: ("--gt", str(p["secret"]), "Permission denied")),
    ("`train --data` a data folder whose features file is unreadable",
     lambda p: ["train", "--profile", "smoke", "--data", p["half"], "--out", p["ro-out"].parent / "new-run"],
     lambda p: ("I3D-JOINTFeatures.npy", "Permission denied")),
    ("`train --out` an existing folder that is not writable",
     lambda p: ["train", "--profile", "smoke", "--data", p["data"], "--out", p["ro-out"]],
     lambda p: ("--out", str(p["ro-out"]), "Permission denied", "not writable")),
    ("`train --out` a new folder inside a read-only one",
     lambda p: ["train", "--profile", "smoke", "--data", p["data"], "--out", p["ro"] / "run"],
     lambda p: ("--out", str(p["ro"] / "run"), "Permission denied")),
    ("`localize --out` a file in a read-only folder",
     lambda p: ["localize", "--run", p["run"], "--data", p["data"], "--out", p["ro"] / "pred.json"],
     lambda p: ("--out", str(p["ro"] / "pred.json"), "Permission denied")),
    ("`make-synthetic --out` inside a read-only folder",
     lambda p: ["make-synthetic", "--preset", "smoke", "--out", p["ro"] / "bench"],
     lambda p: ("--out", str(p["ro"] / "bench"), "Permission denied")),
]


@pytest.fixture(scope="module")
def stopped_run(smoke_root, tmp_path_factory) -> Path:
    from himnet_lib.cli import main
    run = tmp_path_factory.mktemp("unpriv") / "run"
    assert main(["train", "--profile", "smoke", "--threads", "1", "--stop-after", "4", "--data", str(smoke_root),
                 "--out", str(run)]) == 0
    return run


def run_cases(smoke: Path, run: Path, check: bool = True) -> list[tuple[str, str]]:
    """Every case as the unprivileged user: (what, the line), each line checked when ``check``."""
    work = Path(tempfile.mkdtemp(prefix="himnet-unpriv-"))  # not under pytest's 0700 folders
    work.chmod(0o755)
    rows = []
    try:
        paths = _lay_out(work, smoke, run)
        user = Unprivileged(work)
        _restrict(paths)
        before = sorted(str(p.relative_to(work)) for p in work.rglob("*") if not p.is_relative_to(work / "home")
                        and not p.is_relative_to(paths["secret"]))
        for what, argv, needles in CASES:
            p = user.himnet(*argv(paths))
            lines = p.stderr.strip().splitlines()
            if check:
                assert p.returncode == 2 and len(lines) == 1 and "Traceback" not in p.stderr, (what, p.stderr)
                for n in needles(paths):
                    assert n in lines[0], (what, n, lines[0])
            rows.append((what, " ".join(lines).replace(str(work), "<tmp>")))
        after = sorted(str(p.relative_to(work)) for p in work.rglob("*") if not p.is_relative_to(work / "home")
                       and not p.is_relative_to(paths["secret"]))
        if check:
            assert after == before, sorted(set(after) ^ set(before))  # nothing was created
        rows.append(("(the unprivileged user)", user.who))
    finally:
        for p in [work, *work.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)
        shutil.rmtree(work, ignore_errors=True)
    return rows


def test_unprivileged_user_gets_one_line_naming_the_path(smoke_root, stopped_run):
    rows = run_cases(smoke_root, stopped_run)
    assert len(rows) == len(CASES) + 1
    print(f"\nran as {rows[-1][1]}")


if __name__ == "__main__":  # pragma: no cover - the rows of docs/bad_inputs.md
    from himnet_lib.cli import main
    from himnet_lib.datasets.synthetic.writer import make_synthetic
    with tempfile.TemporaryDirectory() as d:
        smoke = make_synthetic("smoke", seed=0, out=Path(d) / "smoke")
        main(["train", "--profile", "smoke", "--threads", "1", "--stop-after", "4", "--data", str(smoke),
              "--out", str(Path(d) / "run")])
        for what, line in run_cases(smoke, Path(d) / "run", check=False):
            print(f"| {what} | `{line}` |")
