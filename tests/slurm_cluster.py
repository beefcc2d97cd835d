"""A one-node Slurm cluster for tests, all its state under one temporary folder.

Needs Debian's ``slurm-wlm`` and ``munge`` (``.ci/run`` installs them as root) and root itself:
slurmctld and slurmd run as root, munged under the package's ``munge`` user with the key the
package created. :func:`start` writes ``slurm.conf`` (this host's name, 2 CPUs, cons_tres,
linuxproc, no accounting, a default partition ``main`` and a partition ``short`` with a MaxTime of
one minute, KillWait=2), starts the three daemons and waits until the node is idle; :func:`stop`
ends them by their PIDs. :class:`Unavailable` says why a cluster could not be had (the tests skip
with that reason)."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SHORT_MAX_MINUTES = 1  # MaxTime of the partition "short"


class Unavailable(Exception):
    """The cluster cannot run here (no Slurm installed, not root, a daemon that did not start)."""


@dataclass
class Cluster:
    root: Path
    conf: Path
    env: dict[str, str]
    munge_dir: Path | None = None
    pids: dict[str, int] = field(default_factory=dict)

    def run(self, *cmd: str, timeout: float = 30) -> str:
        return subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=True).stdout

    def jobs(self, job_id: str) -> list[str]:
        """Lines ``<id> <state>`` of the array ``job_id`` still queued, running or completing."""
        out = subprocess.run(["squeue", "-h", "-r", "-j", job_id, "-o", "%i %T"], env=self.env,
                             capture_output=True, text=True, timeout=30).stdout
        return [ln for ln in out.splitlines() if ln.strip()]


def _conf(root: Path, host: str) -> str:
    return f"""ClusterName=himnettest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=2
MinJobAge=300
SchedulerParameters=sched_interval=2
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
NodeName={host} CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP
PartitionName=short Nodes={host} Default=NO MaxTime={SHORT_MAX_MINUTES} State=UP
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, timeout: float, what: str, log: Path | None = None) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if check():
            return
        time.sleep(0.3)
    tail = log.read_text()[-1500:] if log and log.exists() else ""
    raise Unavailable(f"{what} within {timeout:.0f}s {tail}")


def _pid(path: Path, log: Path) -> int:
    """The pid a daemon writes to ``path`` (waiting until the file has it)."""
    _wait(lambda: path.exists() and path.read_text().strip().isdigit(), 20, f"no pid in {path.name}", log)
    return int(path.read_text().strip())


def start(root: Path) -> Cluster:
    for exe in ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scancel", "sinfo"):
        if not shutil.which(exe) and not Path(f"/usr/sbin/{exe}").exists():
            raise Unavailable(f"{exe} not installed (apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        raise Unavailable("the test cluster's daemons need root")
    try:
        munge_user = pwd.getpwnam("munge")
    except KeyError:
        raise Unavailable("no munge user (Debian's munge package creates it)") from None
    if not Path("/etc/munge/munge.key").exists():
        raise Unavailable("no /etc/munge/munge.key (Debian's munge package creates it)")
    host = socket.gethostname().split(".")[0]
    root.mkdir(parents=True, exist_ok=True)
    for d in ("state", "spool"):
        (root / d).mkdir(exist_ok=True)
    # munged's files: a folder the munge user can reach (pytest's tmp folders are root-only)
    mdir = Path(tempfile.mkdtemp(prefix="slurmtest-munge-"))
    os.chmod(mdir, 0o755)
    os.chown(mdir, munge_user.pw_uid, munge_user.pw_gid)
    conf = root / "slurm.conf"
    conf.write_text(_conf(root, host))
    env = dict(os.environ, SLURM_CONF=str(conf))
    for var in [k for k in env if k.startswith(("SLURM_", "SBATCH_", "SRUN_")) and k != "SLURM_CONF"]:
        del env[var]
    cluster = Cluster(root, conf, env, munge_dir=mdir)
    sbin = "/usr/sbin"
    # munge: Slurm's auth plugin talks to the default socket (/run/munge), so munged serves there
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    os.chown(run_dir, munge_user.pw_uid, munge_user.pw_gid)
    if subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:
        subprocess.run(["runuser", "-u", "munge", "--", f"{sbin}/munged", "--force",
                        f"--pid-file={mdir}/munged.pid", f"--log-file={mdir}/munged.log",
                        f"--seed-file={mdir}/munged.seed"], check=False, capture_output=True)
        _wait(lambda: subprocess.run(["munge", "-n"], capture_output=True).returncode == 0, 20,
              "munged did not answer", mdir / "munged.log")
        pidfile = mdir / "munged.pid"
        if pidfile.exists():
            cluster.pids["munged"] = int(pidfile.read_text().split()[0])
    try:
        subprocess.run([f"{sbin}/slurmctld", "-f", str(conf)], env=env, check=True, capture_output=True, timeout=30)
        cluster.pids["slurmctld"] = _pid(root / "slurmctld.pid", root / "slurmctld.log")
        subprocess.run([f"{sbin}/slurmd", "-f", str(conf)], env=env, check=True, capture_output=True, timeout=30)
        cluster.pids["slurmd"] = _pid(root / "slurmd.pid", root / "slurmd.log")

        def idle() -> bool:
            out = subprocess.run(["sinfo", "-h", "-p", "main", "-o", "%T"], env=env, capture_output=True,
                                 text=True).stdout
            return out.strip().startswith("idle")
        _wait(idle, 40, "the node did not become idle", root / "slurmd.log")
    except Exception as e:  # any failure to start: stop what did start, then skip with the reason
        stop(cluster)
        raise Unavailable(f"slurm did not start: {e}") from None
    return cluster


def stop(cluster: Cluster) -> None:
    """End the daemons by their PIDs (slurmd first, then slurmctld, then munged)."""
    for name in ("slurmd", "slurmctld", "munged"):
        pid = cluster.pids.pop(name, None)
        if pid is None:
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        end = time.time() + 10
        while time.time() < end:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if cluster.munge_dir is not None:
        shutil.rmtree(cluster.munge_dir, ignore_errors=True)
