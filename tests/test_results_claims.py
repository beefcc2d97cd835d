"""The committed claims and dose-response tables are what the committed run records give: each
profile's results/<profile>/tables/claims.csv (and claims_cells.csv, dose_response.csv) is rebuilt
from its runs.csv alone (no run directory, no retraining), the sequential stages included."""

from __future__ import annotations

import pytest

from himnet_lib.config.profiles import get_profile
from himnet_lib.study import claims, claims_cells, claims_report, claims_stages, claims_table, dose, manifest, run_table
from himnet_lib.utils.paths import PROJECT_ROOT

PROFILES = [p for p in ("demo", "study") if (PROJECT_ROOT / "results" / p / "tables" / "runs.csv").exists()]


def _tables(profile):
    return PROJECT_ROOT / "results" / profile / "tables"


@pytest.mark.parametrize("profile", PROFILES)
def test_committed_claims_rebuild_from_committed_runs_csv(profile):
    records = run_table.read_runs_csv(_tables(profile) / "runs.csv")
    table = claims_table.claims_table(records)
    text = table.to_csv(index=False, float_format="%.4f", lineterminator="\n")
    assert text == (_tables(profile) / "claims.csv").read_text()
    assert (_tables(profile) / "claims.md").read_text() == claims_report.to_markdown(table)
    cells = claims_cells.claims_cells_table(records).to_csv(index=False, float_format="%.4f", lineterminator="\n")
    assert cells == (_tables(profile) / "claims_cells.csv").read_text()


@pytest.mark.parametrize("profile", PROFILES)
def test_one_primary_per_claim_none_degenerate_holm_over_primaries(profile):
    table = claims_table.claims_table(run_table.read_runs_csv(_tables(profile) / "runs.csv"))
    prim = table[table["primary"]]
    tested = [c.name for c in claims.declared_claims() if c.kind != "placebo"]
    assert sorted(prim["claim"]) == sorted(tested)
    assert not prim["verdict"].str.startswith("n/a").any()
    assert set(prim["verdict"]) <= set(claims_report.VERDICTS)
    from hand_stats import holm
    assert prim["p_adjusted"].tolist() == pytest.approx(holm(prim["p"].tolist()))


@pytest.mark.parametrize("profile", PROFILES)
def test_committed_runs_csv_holds_the_pilot_and_exactly_the_stages(profile):
    """The runs of runs.csv are the pilot's and, stage by stage, exactly those the sequential rule
    asks for when replayed on the committed records."""
    records = run_table.read_runs_csv(_tables(profile) / "runs.csv")
    key = {(r["table"], r["label"], int(r["seed"]), r["run_id"]): r for r in records}
    seeds = get_profile(profile).seeds
    pilot = claims.claims_specs(profile, *seeds)

    def recs(specs):
        return [key[(s.table, s.label, s.seed, s.run_id)] for s in specs]

    replayed = claims_stages.staged_claims_specs(profile, pilot, lambda specs: None, recs)
    assert {(s.table, s.label, s.seed, s.run_id) for s in replayed} == set(key)


@pytest.mark.parametrize("profile", PROFILES)
def test_committed_dose_response_rebuilds_from_committed_runs_csv(profile):
    # notebook 11 reads the run folders at full precision; runs.csv keeps 6 significant digits,
    # so the rebuild agrees to that rounding (the last of the 4 decimals written, and p near it)
    import io

    import numpy as np
    import pandas as pd

    path = _tables(profile) / "dose_response.csv"
    if not path.exists():
        pytest.skip(f"{profile} has no dose-response table")
    # runs.csv holds every run of the claims table, the sequential stages' extra seeds of the x 1
    # rows included; notebook 11 reads its own grid's runs (the profile's pilot seeds)
    seeds = get_profile(profile).seeds
    own = {s.run_id for s in manifest.entry("11_dose_response").specs(profile, seeds[0], min(seeds))}
    runs = run_table.read_runs_csv(_tables(profile) / "runs.csv")
    rebuilt = dose.dose_response_table([r for r in runs if r["run_id"] in own])
    rebuilt = pd.read_csv(io.StringIO(rebuilt.to_csv(index=False, float_format="%.4f")))
    committed = pd.read_csv(path)
    assert list(rebuilt.columns) == list(committed.columns) and len(rebuilt) == len(committed)
    for c in committed.columns:
        if not pd.api.types.is_numeric_dtype(committed[c]):
            assert rebuilt[c].tolist() == committed[c].tolist(), c
        else:
            np.testing.assert_allclose(rebuilt[c], committed[c], rtol=1e-3, atol=2e-4, err_msg=c)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_profiles_weights_follow_the_balance_chosen_on_validation(profile):
    """loss.balance_terms of the demo and study profiles is the per-term choice that
    balance_choice.csv records (made on demo's validation fold; the study's table repeats it)."""
    import pandas as pd

    from himnet_lib.config import build_config
    path = _tables("demo") / "balance_choice.csv"
    choice = pd.read_csv(path, keep_default_na=False)
    assert set(choice["term"]) >= {"cll", "vcl", "scl"} and (choice[choice["benchmark"] == "all"]["chosen"] != "").all()
    assert tuple(build_config(profile).loss.balance_terms) == dose.chosen_balance_terms(choice)
