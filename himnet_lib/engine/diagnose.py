"""``himnet diagnose``: the mechanism map applied to a user's data. Load any supported dataset (W-TALC
bundle, per-video features, a synthetic preset or variant), train (or reuse) a MIL-only model on it,
compute every structure measure (:mod:`himnet_lib.study.mechanisms`) and say, from the mechanism map
(notebook 12's tables, :func:`himnet_lib.study.mechanism_map.diagnosis`), which terms the data gives
something to work on."""

from __future__ import annotations

import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from himnet_lib.config.profiles import build_config
from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.synthetic.presets import MARKER_FILE
from himnet_lib.datasets.synthetic.writer import make_synthetic
from himnet_lib.engine.train import train_run
from himnet_lib.study import mechanism_map, mechanisms
from himnet_lib.utils.errors import DataError, HimnetError
from himnet_lib.utils.fileio import atomic_write_json, atomic_write_text
from himnet_lib.utils.paths import results_dir
from himnet_lib.utils.run_folder import RunDir

__all__ = ["diagnose", "default_map_dir", "MAP_PROFILES", "REPORT_MD", "REPORT_JSON"]

MAP_PROFILES = ("study", "demo")  # where a map is looked for by default, in this order
REPORT_MD, REPORT_JSON = "diagnose.md", "diagnose.json"


def default_map_dir() -> Path | None:
    """``results/<profile>/tables`` of the first of :data:`MAP_PROFILES` that holds a mechanism map."""
    for p in MAP_PROFILES:
        d = results_dir() / p / "tables"
        if mechanism_map.read_map(d) is not None:
            return d
    return None


def _dataset_root(data: str | os.PathLike | None, preset: str | None, work: Path, seed: int) -> Path:
    if (data is None) == (preset is None):
        raise HimnetError("give --data DIR or --preset NAME (one of them)")
    if preset is not None:
        try:
            return make_synthetic(preset, seed=seed, out=work / "data" / preset)
        except ValueError as e:
            raise HimnetError(str(e)) from None
    root = Path(str(data))
    if not root.is_dir():
        raise DataError("not a folder", file=str(root))
    return root


def diagnose(data: str | os.PathLike | None = None, *, preset: str | None = None, profile: str = "demo",
             run_dir: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
             map_dir: str | os.PathLike | None = None, seed: int = 0, device: str = "auto",
             threads: int | None = None, log: Callable[[str], None] | None = None) -> tuple[Any, str]:
    """The structure table of a dataset and its report text (Markdown). The MIL-only model is
    ``run_dir`` when given (trained there if not finished), else ``<out>/mil-only`` (a temporary
    folder without ``out``), trained with ``profile``'s settings and reading: the MIL-only row of
    Table 3 (``loss.terms = mil``), as the map's MIL-only runs. ``map_dir``: a tables folder with
    the mechanism map (default :func:`default_map_dir`). With ``out``, the report is also written
    there (:data:`REPORT_MD`, :data:`REPORT_JSON`). Errors are one :class:`HimnetError` line."""
    log = log or (lambda s: print(s, file=sys.stderr))
    where: Path | None = None
    if map_dir is not None:
        tables = mechanism_map.read_map(map_dir)
        if tables is None:
            raise HimnetError(f"{map_dir} holds no mechanism map (mechanisms.csv, mechanism_trends.csv, "
                              "mechanism_positions.csv: notebook 12_mechanisms writes them)")
        where = Path(map_dir)
    else:
        where = default_map_dir()
        tables = mechanism_map.read_map(where) if where is not None else None
    with tempfile.TemporaryDirectory(prefix="himnet-diagnose-") as tmp:
        work = Path(out) if out else Path(tmp)
        root = _dataset_root(data, preset, work, seed)
        cfg = build_config(profile, {"loss.terms": ("mil",), "train.seed": seed})
        ds = load_dataset(root, snippet_seconds=cfg.snippet_seconds)
        run = Path(run_dir) if run_dir else work / "mil-only"
        if RunDir(run).finished():
            terms = RunDir(run).params()["config"]["loss"]["terms"]
            if list(terms) != ["mil"]:
                raise HimnetError(f"{run} is not a MIL-only run (its loss terms: {', '.join(terms)})")
            metrics = RunDir(run).metrics()
            log(f"reusing the MIL-only run {run}")
        else:
            log(f"training a MIL-only model ({profile} profile, {cfg.train.iterations} iterations) into {run}")
            metrics = train_run(cfg, ds, run, device=device, num_threads=threads, progress=False, log=log)
        measures = {**mechanisms.dataset_measures(ds), **mechanisms.run_measures(run, ds, metrics)}
        synthetic = (root / MARKER_FILE).is_file()
    notes = {}
    if measures["ambiguous_train_videos"] == 0 and not synthetic:
        measures["ambiguous_train_share"] = math.nan
        notes["ambiguous_train_share"] = ("not measurable: no training video marks ambiguous regions (the data "
                                          "may not annotate them); see boundary_entropy")
    table = mechanism_map.diagnosis(measures, tables, notes)
    text = "\n".join([
        f"# Structure of {ds.name} ({root})",
        "",
        f"{len(ds.train_videos())} training / {len(ds.test_videos())} evaluated videos, {ds.num_classes} classes. "
        f"MIL-only model: {run} ({profile} profile); its measures compare with a map built under the same "
        "profile's settings.",
        f"Mechanism map: {where if tables is not None else 'none found'}.",
        "",
        mechanism_map.diagnosis_markdown(table)])
    if out:
        atomic_write_text(Path(out) / REPORT_MD, text)
        atomic_write_json(Path(out) / REPORT_JSON, {
            "data": str(root), "profile": profile, "run": str(run), "map": str(where) if tables is not None else None,
            "measures": {k: (v if math.isfinite(v) else None) for k, v in measures.items()},
            "table": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                      for r in table.to_dict("records")]})
    return table, text
