"""Stand-ins for Slurm's commands on PATH, for tests of what himnet checks before it submits:
``scontrol show partition -o [NAME]`` lists a default partition ``main`` (no time limit) and a
partition ``short`` (MaxTime one minute), as a real cluster prints them; ``sbatch`` only records that
it was called (a check that let a submission through is seen) and fails; ``squeue`` lists nothing."""

from __future__ import annotations

import os
from pathlib import Path

PARTITIONS = {
    "main": "PartitionName=main AllowGroups=ALL Default=YES MaxTime=UNLIMITED Nodes=n1 State=UP",
    "short": "PartitionName=short AllowGroups=ALL Default=NO MaxTime=00:01:00 Nodes=n1 State=UP",
}
SHORT_LIMIT = "00:01:00"


def install(folder: Path) -> Path:
    """Write the commands into ``folder`` (created); returns it, to put first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = "\n".join(f'    {name}) echo "{line}" ;;' for name, line in PARTITIONS.items())
    scripts = {
        "scontrol": f"""#!/bin/sh
[ "$1 $2" = "show partition" ] || exit 1
shift 2; [ "$1" = "-o" ] && shift
if [ -z "$1" ]; then
{chr(10).join(f'    echo "{line}"' for line in PARTITIONS.values())}
    exit 0
fi
case "$1" in
{cases}
    *) echo "Partition $1 not found" >&2; exit 1 ;;
esac
""",
        "sbatch": f"""#!/bin/sh
echo "$@" >> "{folder / 'sbatch-called'}"
echo "sbatch: error: this is a test stand-in" >&2
exit 1
""",
        "squeue": "#!/bin/sh\nexit 0\n",
    }
    for name, text in scripts.items():
        path = folder / name
        path.write_text(text)
        path.chmod(0o755)
    return folder


def sbatch_called(folder: Path) -> bool:
    return (folder / "sbatch-called").exists()


def path_with(folder: Path) -> str:
    return os.pathsep.join([str(folder), os.environ.get("PATH", "")])
