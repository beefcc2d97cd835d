"""The sequential stages of the claims table: which seeds each primary still needs.

The pilot trains every claim's rows at the pilot's seeds (:func:`himnet_lib.study.claims.claims_specs`).
Then, stage by stage, each primary whose verdict is still *inconclusive* at the last look its seeds
reach gets the seeds of its next look (``Profile.looks``): its compared rows are trained on its
primary cell's benchmark and reading, until every primary is decisive or at the cap. Other cells
that read the same runs (the fixed read-out, other claims on the same rows) see those seeds too
and use them; cells on the other benchmark or reading keep the pilot's seeds. Which primary stopped
where is a pure function of the run records (:func:`himnet_lib.study.claims_table.sequential_verdict`
reads only the first n_k seeds at look k), so the table rebuilt from ``runs.csv`` repeats the stages.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from himnet_lib.study import grids, verdicts
from himnet_lib.study.claims import Claim, declared_claims
from himnet_lib.study.claims_cells import cell_results
from himnet_lib.study.claims_table import primary_cell, primary_design, sequential_verdict
from himnet_lib.study.grids import RunSpec

__all__ = ["next_looks", "stage_specs", "staged_claims_specs"]


def next_looks(records: Sequence[Mapping[str, Any]], claims: Sequence[Claim] | None = None) -> dict[str, int]:
    """{claim name: the seeds of its next look} for every primary still inconclusive whose design
    has a look beyond the last one its seeds reach."""
    claims = [c for c in (declared_claims() if claims is None else claims) if c.kind != "placebo"]
    cells = cell_results(records, claims)
    profile = str(records[0]["profile"])
    main = next(r["benchmark"] for r in records if r["on_main_benchmark"])
    out = {}
    for claim in claims:
        cell = primary_cell(claim, cells, main, profile)
        if cell is None or cell.degenerate:
            continue
        pilot = min(len(set(cell.a)), len(set(cell.b)) if cell.b else len(set(cell.a)))
        design = primary_design(profile, len(claims), pilot)
        res = sequential_verdict(cell, design)
        if res["verdict"] == verdicts.INCONCLUSIVE and res["look"] < len(design.looks):
            out[claim.name] = design.looks[res["look"]]
    return out


def stage_specs(records: Sequence[Mapping[str, Any]], profile: str,
                claims: Sequence[Claim] | None = None) -> list[RunSpec]:
    """The runs of the next stage: each inconclusive primary's compared rows at its next look's
    seeds, on its primary cell (the main benchmark, its reading)."""
    claims = list(declared_claims() if claims is None else claims)
    wanted = next_looks(records, claims)
    specs: list[RunSpec] = []
    for claim in claims:
        if claim.name not in wanted:
            continue
        reading = None if claim.primary.reading in ("-", "profile", grids.default_reading(profile)) \
            else claim.primary.reading
        for table, label in claim.compared_rows():
            specs += grids.row_specs(table, label, profile, wanted[claim.name], reading)
    return grids.unique_specs(specs)


def staged_claims_specs(profile: str, pilot: Sequence[RunSpec], train: Callable[[list[RunSpec]], Any],
                        records: Callable[[list[RunSpec]], Sequence[Mapping[str, Any]]],
                        log: Callable[[str], Any] = lambda s: None,
                        claims: Sequence[Claim] | None = None) -> list[RunSpec]:
    """Every run the claims table reads, the sequential stages included: the ``pilot`` runs (the
    manifest's grid of notebook 10, :func:`himnet_lib.study.claims.claims_specs`), then each stage's
    (:func:`stage_specs`), each trained by ``train(specs)`` before the next stage is decided from
    ``records(specs)``."""
    specs = list(pilot)
    train(specs)
    stage = 1
    while True:
        have = {(s.table, s.label, s.seed, s.run_id) for s in specs}
        more = [s for s in stage_specs(records(specs), profile, claims)
                if (s.table, s.label, s.seed, s.run_id) not in have]
        if not more:
            return specs
        stage += 1
        log(f"claims: stage {stage} adds {len(more)} run(s) to the primaries still inconclusive")
        train(more)
        specs = grids.unique_specs([*specs, *more])
