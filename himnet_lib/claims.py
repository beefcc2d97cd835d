"""The paper's claims tested one by one, under each reading, read-out and benchmark.

One row per (claim, reading, read-out, benchmark)::

    claim, reading, readout, benchmark, paper_effect, our_effect, se, n_seeds, verdict

* ``our_effect``: the difference of the means over seeds (expected-better row minus the row it is
  compared with), in points of the claim's metric (mAP / accuracy in percent; U unitless).
* ``se``: its standard error over seeds: ``sqrt(s_a²/n_a + s_b²/n_b)`` (sample variances) for two
  independently trained rows; ``s_d/sqrt(n)`` of the per-seed differences for a read-out
  comparison on the same runs (Soft-NMS vs NMS); for "α = 4 is best", the effect is α = 4's mean
  minus the best other α's mean, with both standard errors combined the same way.
* ``verdict``: ``within noise`` when ``|effect| < 2·se`` (or the effect is exactly 0), else
  ``holds`` when the effect has the claimed sign and ``reversed`` when not; ``n/a`` with fewer
  than two seeds.
* read-outs: ``fixed`` = the attention thresholded as it is (the peers' inference), ``minmax`` =
  per-video min-max rescaled before the fixed thresholds (``localize.attention_norm``), both with
  Soft-NMS; metrics that involve no localization (accuracy, U) have read-out ``-``.
* readings: ``literal`` / ``lineage`` (:data:`himnet_lib.config.READINGS`); the baselines of
  Table 5 train their own objective, so their rows have reading ``-``.

Everything is read from the run records (``metrics.json``, ``outputs.npz``): no retraining.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from . import paper
from .data import load_dataset
from .diagnostics import background_uncertainty
from .io import atomic_write_text
from .metrics import snippet_memberships
from .readouts import READOUT_NAMES, evaluation_dataset, readout_key
from .records import load_outputs
from .study import RunSpec

__all__ = ["Claim", "CLAIMS", "READOUTS", "run_records", "claims_table", "verdict", "CLAIM_COLUMNS",
           "background_u", "to_markdown", "write_claims", "summary", "summary_markdown"]

CLAIM_COLUMNS = ("claim", "reading", "readout", "benchmark", "paper_effect", "our_effect", "se", "n_seeds",
                 "verdict")

# read-out name -> the by_readout key of metrics.json
# claims-table read-out name -> localize.attention_norm (scored with Soft-NMS; NMS for the NMS claim)
READOUTS: dict[str, str] = {name: norm for norm, name in READOUT_NAMES.items()}


@dataclass(frozen=True)
class Claim:
    """One claim: ``better`` should beat ``worse`` on ``metric``.

    ``better`` / ``worse`` are (table, label) of :class:`~himnet_lib.study.RunSpec` rows.
    kind: "diff" (two rows), "best" (``better`` against the best of the ``worse`` rows: ``worse``
    is then a (table, label-prefix) pair), or "nms" (Soft-NMS vs NMS on the same runs of ``better``).
    metric: "avg" (AVG mAP 0.1:0.7), "avg_0.5" (AVG 0.1:0.5, Table 1), "acc" (snippet ACC),
    "u_bg" (mean U(B_BG‖1-A) on ground-truth background snippets, Fig. 7).
    """

    name: str
    metric: str
    kind: str
    better: tuple[str, str]
    worse: tuple[str, str]
    paper_effect: float
    reading_free: bool = False


def _t3(exp: str) -> tuple[str, str]:
    return ("table3", exp)


_P3 = paper.TABLE3
_P4 = paper.TABLE4
_P5 = paper.TABLE5
_P1 = paper.TABLE1_2

CLAIMS: tuple[Claim, ...] = (
    Claim("CLL improves AVG (Exp 2 vs Exp 1)", "avg", "diff", _t3("Exp 2"), _t3("Exp 1"),
          _P3["Exp 2"][0] - _P3["Exp 1"][0]),
    Claim("CLL improves ACC (Exp 2 vs Exp 1)", "acc", "diff", _t3("Exp 2"), _t3("Exp 1"),
          _P3["Exp 2"][2] - _P3["Exp 1"][2]),
    Claim("VCL improves AVG (Exp 3 vs Exp 2)", "avg", "diff", _t3("Exp 3"), _t3("Exp 2"),
          _P3["Exp 3"][0] - _P3["Exp 2"][0]),
    Claim("SCL improves AVG (Exp 4 vs Exp 3)", "avg", "diff", _t3("Exp 4"), _t3("Exp 3"),
          _P3["Exp 4"][0] - _P3["Exp 3"][0]),
    Claim("SCL beats L_guide (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_guide"),
          _P4["L_SCL"][4] - _P4["L_guide"][4]),
    Claim("SCL beats L_ml (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_ml"),
          _P4["L_SCL"][4] - _P4["L_ml"][4]),
    Claim("U(p||q) >= U(q||p) (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_SCL with U(q||p)"),
          _P4["L_SCL"][4] - _P4["L_SCL with U(q||p)"][4]),
    Claim("U(q||p) >= w/o U (Table 4)", "avg", "diff", ("table4", "L_SCL with U(q||p)"),
          ("table4", "L_SCL w/o U(p||q)"), _P4["L_SCL with U(q||p)"][4] - _P4["L_SCL w/o U(p||q)"][4]),
    Claim("alpha = 4 is best (Fig. 6)", "avg", "best", ("alpha", "alpha=4"), ("alpha", "alpha="), float("nan")),
    Claim("SCL raises U on GT background (Fig. 7)", "u_bg", "diff", _t3("Exp 4"), _t3("Exp 3"), float("nan")),
    Claim("Soft-NMS beats NMS (Table 1, AVG 0.1:0.5)", "avg_0.5", "nms", _t3("Exp 4"), _t3("Exp 4"),
          _P1[("Table 1", "THUMOS14", "Soft-NMS")]["AVG"] - _P1[("Table 1", "THUMOS14", "NMS")]["AVG"]),
    Claim("CLL helps BaS-Net (Table 5)", "avg", "diff", ("table5", "BaS-Net + L_CLL"), ("table5", "BaS-Net"),
          float(_P5[("BaS-Net", "+ L_CLL")][5] or 0.0), reading_free=True),
    Claim("CLL + SCL help BaS-Net (Table 5)", "avg", "diff", ("table5", "BaS-Net + L_CLL + L_SCL"),
          ("table5", "BaS-Net"), float(_P5[("BaS-Net", "+ L_CLL + L_SCL")][5] or 0.0), reading_free=True),
    Claim("SCL helps BaS-Net + CLL (Table 5)", "avg", "diff", ("table5", "BaS-Net + L_CLL + L_SCL"),
          ("table5", "BaS-Net + L_CLL"), _P5[("BaS-Net", "+ L_CLL + L_SCL")][4] - _P5[("BaS-Net", "+ L_CLL")][4],
          reading_free=True),
    Claim("CLL helps HAM-Net (Table 5)", "avg", "diff", ("table5", "HAM-Net + L_CLL"), ("table5", "HAM-Net"),
          float(_P5[("HAM-Net", "+ L_CLL")][5] or 0.0), reading_free=True),
    Claim("SCL helps HAM-Net (Table 5)", "avg", "diff", ("table5", "HAM-Net + L_SCL"), ("table5", "HAM-Net"),
          float(_P5[("HAM-Net", "+ L_SCL")][5] or 0.0), reading_free=True),
)


def verdict(effect: float, se: float, n: int, direction: int = 1) -> str:
    """``holds`` / ``reversed`` / ``within noise`` (|effect| < 2·se or effect = 0); ``n/a`` when n < 2."""
    if n < 2 or not math.isfinite(se) or not math.isfinite(effect):
        return "n/a"
    if effect == 0 or abs(effect) < 2 * se:
        return "within noise"
    return "holds" if effect * direction > 0 else "reversed"


def _mean_se(x: Sequence[float]) -> tuple[float, float, int]:
    a = np.asarray(x, dtype=np.float64)
    n = a.size
    if n == 0:
        return float("nan"), float("nan"), 0
    sd = float(a.std(ddof=1)) if n > 1 else float("nan")
    return float(a.mean()), sd / math.sqrt(n) if n > 1 else float("nan"), n


# --- records ------------------------------------------------------------------------------------

def run_records(specs: Iterable[RunSpec], runs_dir: str | Path,
                u_background: Callable[[RunSpec], float] | None = None) -> list[dict[str, Any]]:
    """One record per spec: its identity (table, label, seed, benchmark, reading) and the metrics
    the claims use, in percent (U unitless), read from ``<runs_dir>/<run_id>/metrics.json``.

    ``u_background(spec)`` supplies the Fig. 7 statistic for Table 3's Exp 3/4 rows (it needs the
    run's outputs and the dataset; :func:`himnet_lib.diagnostics.background_uncertainty`).
    """
    out = []
    for s in specs:
        m = json.loads((Path(runs_dir) / s.run_id / "metrics.json").read_text())
        by = m.get("by_readout", {})
        rec: dict[str, Any] = {
            "table": s.table, "label": s.label, "seed": s.seed, "run_id": s.run_id,
            "benchmark": s.benchmark_name or "data", "reading": s.reading,
            "acc": 100 * m["snippet_acc"], "fg_bg_auc": m.get("fg_bg_auc"),
        }
        for readout, norm in READOUTS.items():
            soft, nms = by[readout_key(norm, "soft")], by[readout_key(norm, "nms")]
            rec[f"avg[{readout}]"] = 100 * soft["average_mAP"]
            rec[f"avg_0.5[{readout}]"] = 100 * soft["average_mAP_0.1_0.5"]
            rec[f"avg_0.5_nms[{readout}]"] = 100 * nms["average_mAP_0.1_0.5"]
        if u_background is not None and s.table == "table3" and s.label in ("Exp 3", "Exp 4"):
            rec["u_bg"] = float(u_background(s))
        out.append(rec)
    return out


def _values(records: Sequence[Mapping[str, Any]], table: str, label: str, column: str,
            prefix: bool = False) -> dict[str, dict[int, float]]:
    """{label: {seed: value}} of the matching records (one label, or every label with the prefix)."""
    got: dict[str, dict[int, float]] = {}
    for r in records:
        if r["table"] != table:
            continue
        if (r["label"].startswith(label) if prefix else r["label"] == label) and r.get(column) is not None:
            got.setdefault(r["label"], {})[int(r["seed"])] = float(r[column])
    return got


def _effect(claim: Claim, records: Sequence[Mapping[str, Any]], readout: str) -> tuple[float, float, int]:
    col = {"avg": f"avg[{readout}]", "avg_0.5": f"avg_0.5[{readout}]", "acc": "acc", "u_bg": "u_bg"}[claim.metric]
    if claim.kind == "nms":
        soft = _values(records, *claim.better, col).get(claim.better[1], {})
        hard = _values(records, *claim.better, f"avg_0.5_nms[{readout}]").get(claim.better[1], {})
        seeds = sorted(set(soft) & set(hard))
        d = [soft[k] - hard[k] for k in seeds]
        mean, se, n = _mean_se(d)
        return mean, se, n
    a = _values(records, *claim.better, col).get(claim.better[1], {})
    ma, sa, na = _mean_se(list(a.values()))
    if claim.kind == "best":
        others = {lab: v for lab, v in _values(records, claim.worse[0], claim.worse[1], col, prefix=True).items()
                  if lab != claim.better[1]}
        if not others:
            return float("nan"), float("nan"), 0
        best = max(others, key=lambda lab: np.mean(list(others[lab].values())))
        mb, sb, nb = _mean_se(list(others[best].values()))
    else:
        b = _values(records, *claim.worse, col).get(claim.worse[1], {})
        mb, sb, nb = _mean_se(list(b.values()))
    return ma - mb, math.sqrt(sa ** 2 + sb ** 2), min(na, nb)


def claims_table(records: Sequence[Mapping[str, Any]], claims: Sequence[Claim] = CLAIMS):
    """The claims table (pandas DataFrame, :data:`CLAIM_COLUMNS`) from :func:`run_records` output.

    Rows whose runs are missing (e.g. a grid not trained) are left out rather than reported as
    noise.
    """
    import pandas as pd
    rows = []
    benches = list(dict.fromkeys(r["benchmark"] for r in records))
    readings = list(dict.fromkeys(r["reading"] for r in records if r["table"] != "table5"))
    for claim in claims:
        for bench in benches:
            recs_b = [r for r in records if r["benchmark"] == bench]
            for reading in (["-"] if claim.reading_free else readings):
                recs = recs_b if claim.reading_free else [r for r in recs_b if r["reading"] == reading]
                readouts = ["-"] if claim.metric in ("acc", "u_bg") else list(READOUTS)
                for readout in readouts:
                    effect, se, n = _effect(claim, recs, "fixed" if readout == "-" else readout)
                    if n == 0 or not math.isfinite(effect):
                        continue
                    rows.append({"claim": claim.name, "reading": reading, "readout": readout, "benchmark": bench,
                                 "paper_effect": claim.paper_effect, "our_effect": effect, "se": se,
                                 "n_seeds": n, "verdict": verdict(effect, se, n)})
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


def background_u(roots: Mapping[str, str | Path], runs_dir: str | Path) -> Callable[[RunSpec], float]:
    """The Fig. 7 statistic for :func:`run_records`: mean U(B_BG‖1-A) (α and KL of the run's own
    loss settings) over the ground-truth background snippets of the evaluated videos.
    ``roots``: benchmark -> dataset root (as :func:`himnet_lib.runs.run_study_specs` returns)."""
    cache: dict[tuple[str, float], Any] = {}

    def stat(spec: RunSpec) -> float:
        cfg = spec.config()
        key = (spec.benchmark, cfg.train.val_fraction)
        if key not in cache:
            ds = evaluation_dataset(load_dataset(roots[spec.benchmark], snippet_seconds=cfg.snippet_seconds), cfg)
            videos = ds.test_videos()
            members = snippet_memberships(ds, videos)
            cache[key] = (videos, members)
        videos, members = cache[key]
        u = background_uncertainty(load_outputs(Path(runs_dir) / spec.run_id), videos, members,
                                   alpha=cfg.loss.alpha, kl=cfg.loss.scl_kl)
        return float(u.mean()) if u.size else float("nan")

    return stat


def _fmt(v: Any, digits: int = 2) -> str:
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:+.{digits}f}"
    return str(v)


def to_markdown(table) -> str:
    """The claims table as Markdown (effects with a sign, 2 decimals; ``n/a`` where the paper gives
    no number)."""
    cols = list(CLAIM_COLUMNS)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in table.itertuples(index=False):
        d = r._asdict()
        cells = [_fmt(d[c], 3 if c == "se" else 2) if c in ("paper_effect", "our_effect") else
                 ("n/a" if isinstance(d[c], float) and not math.isfinite(d[c]) else
                  f"{d[c]:.2f}" if isinstance(d[c], float) else str(d[c])) for c in cols]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_claims(table, out_dir: str | Path) -> list[Path]:
    """``claims.csv`` (full precision), ``claims.md`` (:func:`to_markdown`) and ``claims_summary.md``
    (one row per claim, :func:`summary`), written atomically."""
    out = Path(out_dir)
    csv_text = table.to_csv(index=False, float_format="%.4f", lineterminator="\n")
    return [atomic_write_text(out / "claims.csv", csv_text), atomic_write_text(out / "claims.md", to_markdown(table)),
            atomic_write_text(out / "claims_summary.md", summary_markdown(summary(table)))]


def summary(table):
    """One row per claim: the paper's effect, how many (reading, read-out, benchmark) rows hold, are
    within noise, are reversed, and the range of our effects."""
    import pandas as pd
    rows = []
    for name, g in table.groupby("claim", sort=False):
        counts = g["verdict"].value_counts()
        rows.append({"claim": name, "paper_effect": g["paper_effect"].iloc[0],
                     "holds": int(counts.get("holds", 0)), "within noise": int(counts.get("within noise", 0)),
                     "reversed": int(counts.get("reversed", 0)), "n/a": int(counts.get("n/a", 0)), "rows": len(g),
                     "our_effect_min": float(g["our_effect"].min()), "our_effect_max": float(g["our_effect"].max())})
    return pd.DataFrame(rows)


def summary_markdown(s) -> str:
    lines = ["| claim | paper | holds | within noise | reversed | n/a (1 seed) | our effects (min … max) |",
             "|---|---|---|---|---|---|---|"]
    for r in s.to_dict("records"):
        n = r["rows"]
        claim = str(r["claim"]).replace("|", "\\|")   # "U(p||q)" must not split the cell
        lines.append(f"| {claim} | {_fmt(r['paper_effect'])} | {r['holds']}/{n} | {r['within noise']}/{n} | "
                     f"{r['reversed']}/{n} | {r['n/a']}/{n} | "
                     f"{_fmt(r['our_effect_min'])} … {_fmt(r['our_effect_max'])} |")
    return "\n".join(lines) + "\n"
