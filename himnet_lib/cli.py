"""The ``himnet`` command line: argument parsing only, every command calls into the library.

User-facing errors (:class:`himnet_lib.utils.errors.HimnetError`) are printed as one line on stderr with
exit status 2; no traceback is shown for bad data or refused runs, nor for an OSError
(disk full, read-only folder, a file in the way), which names its path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

from himnet_lib.study.manifest import cli_choices
from himnet_lib.utils.access import check_readable, check_writable
from himnet_lib.utils.errors import HimnetError

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def _command(name: str):
    def register(fn):
        _COMMANDS[name] = fn
        return fn
    return register


# --- data -------------------------------------------------------------------------------------

@_command("check-data")
def _check_data(args: argparse.Namespace) -> int:
    from himnet_lib.datasets.summary import check_data
    check_readable(args.root, "root")
    ok, report = check_data(args.root, snippet_seconds=args.snippet_seconds, feature_dim=args.feature_dim)
    print(report)
    return 0 if ok else 2


@_command("make-synthetic")
def _make_synthetic(args: argparse.Namespace) -> int:
    from himnet_lib.datasets.synthetic.writer import make_synthetic
    check_writable(args.out, "--out")
    root = make_synthetic(args.preset, seed=args.seed, out=args.out)
    print(f"wrote synthetic '{args.preset}' benchmark (seed {args.seed}) to {root}")
    return 0


@_command("migrate-runs")
def _migrate_runs(args: argparse.Namespace) -> int:
    from himnet_lib.engine.migrate import migrate_runs
    if not args.runs_dir.is_dir():
        raise HimnetError(f"{args.runs_dir} is not a folder of runs (results/<profile>/runs)")
    migrate_runs(args.runs_dir)
    return 0


# --- evaluation -------------------------------------------------------------------------------

@_command("evaluate")
def _evaluate(args: argparse.Namespace) -> int:
    check_readable(args.gt, "--gt")
    check_readable(args.pred, "--pred")
    import json

    from himnet_lib.config.profiles import TIOU_PROTOCOLS
    from himnet_lib.evaluation.detection import evaluate_files, format_result
    if args.protocol and args.tiou:
        raise HimnetError("give --protocol or --tiou, not both")
    tiou = TIOU_PROTOCOLS[args.protocol] if args.protocol else args.tiou
    result = evaluate_files(args.gt, args.pred, subset=args.subset, tiou=tiou,
                            snippet_seconds=args.snippet_seconds)
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        print(format_result(result))
    return 0


# --- training ---------------------------------------------------------------------------------

def _run_config(args: argparse.Namespace):
    from himnet_lib.config.profiles import READINGS, build_config
    from himnet_lib.config.run import parse_override
    overrides = dict(parse_override(s) for s in (args.set or []))
    if not isinstance(overrides.get("reading", ""), str):  # build_config looks it up as a name
        raise HimnetError(f"setting reading must be one of {', '.join(READINGS)}, got {overrides['reading']!r}")
    if args.losses is not None:
        overrides["loss.terms"] = [t.strip() for t in args.losses.split(",") if t.strip()]
    if args.alpha is not None:
        overrides["loss.alpha"] = args.alpha
    if args.seed is not None:
        overrides["train.seed"] = args.seed
    if args.iterations is not None:
        overrides["train.iterations"] = args.iterations
    if args.model is not None:
        overrides["train.model"] = args.model
    return build_config(args.profile, overrides, reading=args.reading)


@_command("train")
def _train(args: argparse.Namespace) -> int:
    from himnet_lib.engine.train import train_run
    from himnet_lib.utils.device import check_device
    if args.threads is not None and args.threads < 1:
        raise HimnetError(f"--threads must be >= 1, got {args.threads}")
    cfg = _run_config(args)
    check_readable(args.data, "--data")
    check_writable(args.out, "--out")
    check_device(args.device)
    m = train_run(cfg, args.data, args.out, device=args.device, force=args.force,
                  num_threads=args.threads, stop_after=args.stop_after)
    if m:
        print(f"{args.out}: average mAP {100 * m['average_mAP']:.2f}% "
              f"(tIoU {m['tiou'][0]:g}:{m['tiou'][-1]:g}), snippet acc {100 * m['snippet_acc']:.1f}, "
              f"fg/bg acc {100 * m['fg_bg_acc']:.1f} [{m['selection']}]")
    return 0


@_command("localize")
def _localize(args: argparse.Namespace) -> int:
    from himnet_lib.config.run import parse_override
    from himnet_lib.engine.inference import predict_run
    from himnet_lib.utils.device import check_device
    overrides = dict(parse_override(s) for s in (args.set or []))
    for path, option in ((args.run, "--run"), (args.data, "--data")):
        check_readable(path, option)
    check_writable(args.out, "--out", file=True)
    check_device(args.device)
    preds = predict_run(args.run, args.data, args.out, subset=args.subset, overrides=overrides,
                        device=args.device)
    n = sum(len(v) for v in preds["results"].values())
    print(f"wrote {n} proposals for {len(preds['results'])} videos to {args.out}")
    return 0


@_command("diagnose")
def _diagnose(args: argparse.Namespace) -> int:
    from himnet_lib.engine.diagnose import diagnose
    if args.threads is not None and args.threads < 1:
        raise HimnetError(f"--threads must be >= 1, got {args.threads}")
    _, text = diagnose(args.data, preset=args.preset, profile=args.profile, run_dir=args.run, out=args.out,
                       map_dir=args.map, seed=args.seed, device=args.device, threads=args.threads)
    print(text)
    return 0


SLURM_OPTIONS = ("partition", "time", "account", "qos", "cpus_per_task", "mem", "gpus_per_task")


def _slurm_settings(args: argparse.Namespace) -> dict | None:
    from himnet_lib.engine.slurm import settings
    given = {k: getattr(args, f"slurm_{k}") for k in SLURM_OPTIONS}
    if args.executor != "slurm":
        named = [f"--slurm-{k.replace('_', '-')}" for k, v in given.items() if v is not None]
        named += ["--slurm-set"] * bool(args.slurm_set) + ["--cluster"] * bool(args.cluster)
        if named:
            raise HimnetError(f"{', '.join(named)} need --executor slurm")
        return None
    return settings(args.cluster, given, args.slurm_set or [])


def _check_reproduce(args: argparse.Namespace) -> None:
    """What reproduce needs, checked before the imports that load torch (so within a second): the
    extras, --data, --results and the Slurm settings against the cluster. The time asked for depends
    on the runs' iterations, not on how many seeds, so one seed each is enough to find it."""
    from himnet_lib.engine.preflight import check_reproduce
    check_reproduce(args.profile, data=args.data, results=args.results, executor=args.executor,
                    slurm_settings=_slurm_settings(args), seeds=1, seeds_other=1, reading=args.reading,
                    notebooks=args.notebooks, workers=max(1, args.workers), threads=args.threads)


@_command("reproduce")
def _reproduce(args: argparse.Namespace) -> int:
    _check_reproduce(args)
    import shlex

    from himnet_lib.config.profiles import get_profile
    from himnet_lib.engine.process_pool import sigterm_interrupts
    from himnet_lib.engine.reproduce import reproduce
    from himnet_lib.study.manifest import study_notebooks
    pilot = get_profile(args.profile).seeds
    args.seeds = pilot[0] if args.seeds is None else args.seeds
    args.seeds_other = pilot[1] if args.seeds_other is None else args.seeds_other
    for flag, value in (("--seeds", args.seeds), ("--seeds-other", args.seeds_other), ("--workers", args.workers),
                        ("--threads", 1 if args.threads is None else args.threads)):
        if value < 1:
            raise HimnetError(f"{flag} must be >= 1, got {value}")
    unknown = [n for n in args.notebooks or [] if n not in study_notebooks()]
    if unknown:
        raise HimnetError(f"unknown study notebook(s) {', '.join(map(repr, unknown))}; "
                          f"choose from {', '.join(study_notebooks())}")
    slurm = _slurm_settings(args)
    try:
        with sigterm_interrupts():
            reproduce(args.profile, data_root=str(args.data) if args.data else None, seeds=args.seeds,
                      seeds_other=args.seeds_other, workers=args.workers, executor=args.executor,
                      results=args.results, notebooks=args.notebooks, reading=args.reading, threads=args.threads,
                      via=args.via, slurm=slurm)
    except KeyboardInterrupt:
        again = shlex.join(["himnet", *(args.argv or [])])
        print(f"himnet reproduce: interrupted; finished runs are kept and the rest resume from their "
              f"checkpoints with: {again}", file=sys.stderr)
        return 130
    return 0


def build_parser() -> argparse.ArgumentParser:
    choices = cli_choices()
    p = argparse.ArgumentParser(
        prog="himnet",
        description="HiM-Net study: check data, make the synthetic benchmark, train, localize, evaluate, "
                    "and reproduce every table and figure.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("check-data", help="validate a dataset root and print a summary or every problem found")
    c.add_argument("root", type=Path, help="W-TALC bundle root or per-video (BaS-Net style) root")
    c.add_argument("--snippet-seconds", type=float, default=16 / 25, help="seconds per feature snippet (default 0.64)")
    c.add_argument("--feature-dim", type=int, default=None,
                   help="expected feature dimension 2D (default: from the data)")

    c = sub.add_parser("make-synthetic", help="write the synthetic THUMOS-like benchmark as a W-TALC bundle")
    c.add_argument("--preset", choices=choices["presets"], default="demo")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", type=Path, required=True, help="output root directory")

    c = sub.add_parser("evaluate", help="ActivityNet-exact detection mAP of a result JSON")
    c.add_argument("--gt", required=True, type=Path,
                   help="W-TALC bundle root, per-video root, or ActivityNet ground-truth JSON")
    c.add_argument("--pred", required=True, type=Path, help="ActivityNet result JSON")
    c.add_argument("--subset", default=None, help="ground-truth subset (default: the dataset's test subset)")
    c.add_argument("--protocol", choices=choices["tiou_protocols"], default=None,
                   help="tIoU protocol: thumos14 (0.1:0.1:0.7) or activitynet (0.5:0.05:0.95); default: "
                        "activitynet for ground truth with >= 100 classes, else thumos14")
    c.add_argument("--tiou", type=float, nargs="+", default=None, help="tIoU thresholds (instead of --protocol)")
    c.add_argument("--snippet-seconds", type=float, default=16 / 25,
                   help="seconds per snippet when GT is a dataset root")
    c.add_argument("--json", action="store_true", help='print {"tiou", "mAP", "average_mAP"} as JSON')

    c = sub.add_parser("train", help="train (or resume) one run and write its records to --out")
    c.add_argument("--data", required=True, type=Path, help="dataset root (W-TALC bundle or per-video layout)")
    c.add_argument("--profile", default="demo", choices=choices["profiles"],
                   help="named settings (default: demo)")
    c.add_argument("--model", default=None, choices=choices["models"], help="model variant (default himnet)")
    c.add_argument("--losses", default=None,
                   help=f"comma-separated loss terms from {','.join(choices['loss_terms'])} (default: the profile's; "
                        "a baseline's own set for --model basnet|hamnet)")
    c.add_argument("--reading", default=None, choices=choices["readings"],
                   help="reading of the paper: literal (Eq. 1-11 as printed) or lineage (+ what the authors' CO2-Net "
                        "code always does); default: the profile's")
    c.add_argument("--alpha", type=float, default=None, help="SCL uncertainty alpha (Eq. 9)")
    c.add_argument("--seed", type=int, default=None)
    c.add_argument("--iterations", type=int, default=None)
    c.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one setting, e.g. --set train.lr=1e-4 --set loss.scl_centre=target (repeatable)")
    c.add_argument("--out", required=True, type=Path, help="run directory")
    c.add_argument("--force", action="store_true", help="discard a finished or different run in --out and retrain")
    c.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda")
    c.add_argument("--threads", type=int, default=None, help="torch CPU threads (not part of the run identity)")
    c.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)

    c = sub.add_parser("localize", help="predict proposals of a trained run as ActivityNet result JSON")
    c.add_argument("--run", required=True, type=Path, help="run directory written by himnet train")
    c.add_argument("--data", required=True, type=Path, help="dataset root")
    c.add_argument("--subset", default=None, help="subset to localize (default: the dataset's test subset)")
    c.add_argument("--out", required=True, type=Path, help="output ActivityNet result JSON")
    c.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a localization setting, e.g. --set localize.nms=soft")
    c.add_argument("--device", default="auto")

    c = sub.add_parser("diagnose", help="structure measures of a dataset (a MIL-only model trained or reused) and "
                                        "which loss terms the mechanism map says it gives something to work on")
    c.add_argument("--data", type=Path, default=None, help="dataset root (W-TALC bundle or per-video layout)")
    c.add_argument("--preset", default=None,
                   help="instead of --data: a synthetic preset or variant (e.g. demo+class_style=0.5), generated")
    c.add_argument("--profile", default="demo", choices=choices["profiles"],
                   help="settings of the MIL-only model (default demo: 500 iterations)")
    c.add_argument("--run", type=Path, default=None,
                   help="the MIL-only run folder to reuse or train (default: <out>/mil-only)")
    c.add_argument("--map", type=Path, default=None,
                   help="tables folder of a mechanism map (default: results/study/tables, else results/demo/tables)")
    c.add_argument("--out", type=Path, default=None,
                   help="folder for the MIL-only run and diagnose.{md,json} (default: a temporary folder)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--device", default="auto")
    c.add_argument("--threads", type=int, default=None, help="torch CPU threads")

    c = sub.add_parser("migrate-runs", help="rename run folders of an earlier himnet to their current run ids "
                                            "(so that reproduce reuses them)")
    c.add_argument("runs_dir", type=Path, help="a study's runs folder, e.g. results/demo/runs")

    c = sub.add_parser("reproduce", help="train every run and execute the study notebooks: all tables and figures")
    c.add_argument("--profile", default="demo", choices=choices["profiles"])
    c.add_argument("--data", type=Path, default=None,
                   help="dataset root (default for smoke/demo: generate the synthetic benchmark)")
    c.add_argument("--seeds", type=int, default=None,
                   help="seeds of the Table 3 rows (default: the profile's pilot, 5)")
    c.add_argument("--seeds-other", type=int, default=None,
                   help="seeds of every other row: Table 4, alpha sweep, Tables 1 and 5 (default: the profile's "
                        "pilot, 3; 5 for the study profile)")
    c.add_argument("--workers", type=int, default=2,
                   help="runs trained at once (default 2); the whole study's notebooks then run up to 2 at a time")
    c.add_argument("--executor", choices=["local", "slurm"], default="local",
                   help="local worker processes, or a Slurm job array via submitit (extra 'cluster')")
    c.add_argument("--results", default=None, help="output folder (default results/<profile>)")
    c.add_argument("--notebooks", nargs="*", default=None, help="only these study notebooks (default: all)")
    c.add_argument("--reading", default=None, choices=choices["readings"],
                   help="the reading the study's tables use (default: the profile's); the claims table covers both")
    c.add_argument("--threads", type=int, default=None,
                   help="torch threads per run (default: $OMP_NUM_THREADS, else cores / workers)")
    c.add_argument("--via", choices=["process", "notebook"], default="process",
                   help="train runs in worker processes (default) or by papermill on 01_train, one kernel per run")
    s = c.add_argument_group("Slurm (with --executor slurm; docs/cluster.md)")
    s.add_argument("--slurm-partition", metavar="P", default=None,
                   help="partition (default: the cluster's default partition)")
    s.add_argument("--slurm-time", metavar="T", default=None,
                   help="time limit per run: minutes or [D-]HH:MM:SS (default: the profile's estimate with a margin)")
    s.add_argument("--slurm-account", metavar="A", default=None, help="account to charge")
    s.add_argument("--slurm-qos", metavar="Q", default=None, help="quality of service")
    s.add_argument("--slurm-cpus-per-task", metavar="N", type=int, default=None,
                   help="CPUs per run, also its torch threads (default: --threads, else 1)")
    s.add_argument("--slurm-mem", metavar="M", default=None, help="memory per run, e.g. 8G")
    s.add_argument("--slurm-gpus-per-task", metavar="G", type=int, default=None,
                   help="GPUs per run (a run on a GPU trains on CUDA)")
    s.add_argument("--slurm-set", action="append", metavar="KEY=VALUE",
                   help="any other submitit Slurm parameter or sbatch option, e.g. --slurm-set constraint=a100 "
                        "(repeatable)")
    s.add_argument("--cluster", type=Path, default=None, metavar="FILE",
                   help="YAML or TOML file of Slurm settings (keys partition, time, ...; options given here win)")
    return p


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _COMMANDS[args.command](args)
    except HimnetError as e:
        print(f"himnet {args.command}: error: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except OSError as e:  # disk full, read-only folder, a file in the way: what was written stays
        where = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None) or "(no path given)"
        print(f"himnet {args.command}: error: {where}: {e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"himnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
