"""All performance numbers in one table; writes ``results/timing/<machine>.json``.

    python timing/bench_all.py              # the full set (~5-10 min on a 2-core CPU)
    python timing/bench_all.py --quick      # fewer repetitions, smaller numerics check
    python timing/bench_all.py --skip paper numerics   # a partial rerun: the rest carried over
    python timing/bench_all.py --refresh-readme        # rebuild the stored results' README rows

Every comparison (reference vs fast, fp32 vs bf16, step vs matmul peak) is measured in the SAME
run, interleaved (A, B, A, B, ...), and reported as the median of several repetitions, so that
other work on a shared machine slows both sides alike; compare ratios, not absolute times, across
runs. Besides wall-clock medians the JSON keeps medians of process CPU time (``*_cpu_s``), which
are far less sensitive to other processes competing for the cores.

Machine key: a slug of the CPU model name and core count from /proc/cpuinfo (hostname-free).
Also written: ``results/timing/numerics_<machine>.csv`` and ``.png`` (loss curves of the reference
path and the fast path in float32 and under bf16 autocast, over 200 steps at a reduced paper-like
scale). The JSON's ``readme`` section is the README's bench table of the run
(``python -m himnet_lib.study.report`` copies it).

This file is the driver; the parts live in ``timing/suite/`` (one module each, listed in
``suite/parts.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # suite and the sibling bench scripts

from suite.machine import describe, load_average  # noqa: E402
from suite.part import Context  # noqa: E402
from suite.parts import PARTS  # noqa: E402
from suite.paths import RESULTS  # noqa: E402
from suite.readme import dumps, readme_section, refresh  # noqa: E402
from suite.terminal import table  # noqa: E402

from himnet_lib.utils.fileio import atomic_write_text


def carried_over(old: dict, skip: list[str]) -> dict:
    """What a partial rerun keeps from the earlier result ``old``: the skipped parts' keys where it
    recorded them (``part_keys``), else all of it; and where they came from."""
    keys = old.get("part_keys")
    carried = {k: old[k] for p in skip for k in keys.get(p, []) if k in old} if keys else dict(old)
    for k in ("incomplete", "note", "readme"):  # the earlier run's note describes the carried parts only
        carried.pop(k, None)
    carried["skipped_parts_from"] = {"date": old.get("date"), "parts": list(skip), "note": old.get("note")}
    if keys:
        carried["part_keys"] = {p: keys[p] for p in skip if p in keys}
    return carried


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run of the script)")
    ap.add_argument("--skip", nargs="*", default=[], choices=list(PARTS))
    ap.add_argument("--out", default=None,
                    help="JSON path (default results/timing/<machine>.json; with --quick a temporary file)")
    ap.add_argument("--refresh-readme", nargs="*", default=None, metavar="JSON",
                    help="measure nothing: rebuild the 'readme' section of these stored results "
                         "(default results/timing/*.json) from the numbers they hold")
    args = ap.parse_args(argv)
    if args.refresh_readme is not None:
        for path in refresh([Path(p) for p in args.refresh_readme] or sorted(RESULTS.glob("*.json"))):
            print(f"refreshed {path}")
        return {}
    t_start = time.perf_counter()
    machine = describe()
    slug = machine["machine"]
    res: dict = {**machine, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "load_average_at_start": load_average(),
                 "make_demo_s": None,
                 "make_demo_note": "not measured here (a long run); filled in from a fresh `make demo`"}
    # --quick never overwrites the recorded numbers: its JSON goes to the temporary folder by default
    default = Path(tempfile.gettempdir()) / f"bench-quick-{slug}.json" if args.quick else RESULTS / f"{slug}.json"
    out = Path(args.out) if args.out else default
    try:
        old = json.loads(out.read_text()) if out.exists() else {}
    except json.JSONDecodeError:
        old = {}  # a truncated earlier file: measure afresh
    if old.get("make_demo_s"):  # keep the last measured `make demo` time: this script does not rerun it
        res["make_demo_s"], res["make_demo_note"] = old["make_demo_s"], old.get("make_demo_note", "")
    if args.skip and old:  # a partial rerun keeps the skipped parts' numbers from the earlier run, and says so
        carried = carried_over(old, args.skip)
        res = {**carried, **res, "skipped_parts_from": carried["skipped_parts_from"]}
    ctx = Context(quick=args.quick, slug=slug, out_dir=out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, part in PARTS.items():
        if name in args.skip:
            continue
        t0 = time.perf_counter()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        got = part.measure(ctx)
        res.update(got)
        res.setdefault("part_keys", {})[name] = sorted(got)
        res.setdefault("part_seconds", {})[name] = round(time.perf_counter() - t0, 1)
        partial = {**res, "incomplete": True}  # partial results survive an interrupted run
        atomic_write_text(out, dumps({**partial, "readme": readme_section(partial)}))
    res["loss_share"] = {k: res[f"{k}_loss_share_fast"] for k in ("demo", "paper") if f"{k}_loss_share_fast" in res}
    res["load_average_at_end"] = load_average()
    res["total_seconds"] = round(time.perf_counter() - t_start, 1)
    if args.quick:
        res["note"] = "--quick: few repetitions; not for reporting"
    res["readme"] = readme_section(res)
    print(table(res))
    atomic_write_text(out, dumps(res))
    print(f"wrote {out}")
    return res


if __name__ == "__main__":
    main()
