"""docs/extending.md's "add a loss term" path, walked with a toy term: one TermSpec, one function and
one Table 3 core row; training composes it, the tables give it a column and the claims table states
and tests its claim, with nothing else edited."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from himnet_lib.config import sections, terms
from himnet_lib.config.sections import ModelConfig
from himnet_lib.modeling import losses
from himnet_lib.modeling.himnet import build_model
from himnet_lib.modeling.losses import compose
from himnet_lib.study import claims, claims_table, grids, run_table, tables


@pytest.fixture
def toy_term(monkeypatch):
    spec = terms.TermSpec("toy", None, ("attention",), ablation=True)      # step 1: terms.py

    def toy(out, labels, cfg):                                               # step 2: losses.py
        return out.attention.float().mean()

    specs = (*terms.TERM_SPECS, spec)
    known = tuple(s.name for s in specs)
    monkeypatch.setattr(terms, "TERM_SPECS", specs)
    monkeypatch.setattr(settings, "KNOWN_TERMS", known)                     # LossConfig validates here
    monkeypatch.setattr(losses, "TERMS", {**compose.TERMS, "toy": compose.Term(toy, spec)})
    monkeypatch.setattr(tables, "ABLATION_TERMS", tuple(s.name for s in specs if s.ablation))
    rows = [*grids.TABLE3_ROWS, ("Exp 9", (*grids.FULL, "toy"))]             # step 5: study.py
    core = (*grids.CORE_ROWS, "Exp 9")
    monkeypatch.setattr(study, "TABLE3_ROWS", rows)
    monkeypatch.setattr(study, "CORE_ROWS", core)
    # what the module constants derive at import from the edited rows
    added = grids.added_terms(rows, core)
    assert added["toy"] == ("Exp 9", "Exp 4") and grids.weight_fields(added) == grids.DOSE_WEIGHT_FIELDS
    (claim,) = [c for c in claims.added_term_claims(added) if "TOY" in c.name]
    assert claim.name == "TOY improves AVG (Exp 9 vs Exp 4)" and claim.dose is None   # no λ: no dose rows
    return claim


def test_toy_term_trains_tabulates_and_is_claimed(toy_term):
    cfg = sections.LossConfig(terms=("mil", "toy"), topk_ratio=4.0)
    model = build_model(ModelConfig(feature_dim=8, num_classes=3, attention_hidden=4, head_hidden=8))
    out = model(torch.randn(2, 12, 8))
    labels = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    total, parts = compose.compose_losses(out, labels, cfg)
    assert set(parts) == {"mil", "toy"}
    assert float(total.detach()) == pytest.approx(float((parts["mil"] + out.attention.mean()).detach()), rel=1e-6)
    assert compose.effective_weights(cfg, labels.numpy(), 12) == {"mil": 1.0, "toy": 1.0}

    # the Table 3 grid has the row, and Table 3 has a check-mark column for the term
    specs = grids.table3_specs("smoke", 1, rows=["Exp 9"])
    assert [s.config().loss.terms for s in specs] == [(*grids.FULL, "toy")]
    df = pd.DataFrame([{"label": lab, "seed": 0, "average_mAP": 0.4 + 0.1 * i, "snippet_acc": 0.6}
                       for i, lab in enumerate(("Exp 1", "Exp 9"))])
    t = tables.table3(df, rows=[("Exp 1", ("mil",)), ("Exp 9", ("mil", "toy"))])
    assert t["L_TOY"].tolist() == ["", "✓"]

    # the claims table compares the two rows from run records alone
    recs = []
    for label, base in (("Exp 9", 0.30), ("Exp 4", 0.20)):
        for seed in range(3):
            r = {c: np.nan for c in run_table.RUN_COLUMNS}
            r.update({"table": "table3", "label": label, "seed": seed, "run_id": f"{label}-{seed}", "profile": "smoke",
                      "benchmark": "smoke", "main_benchmark": True, "reading": "literal",
                      "avg[fixed]": base + 0.01 * seed, "avg[minmax]": base + 0.011 * seed,
                      "attention_range_median": 0.5})
            recs.append(r)
    row = claims_table.claims_table(recs, [toy_term]).iloc[0]
    assert row.our_effect == pytest.approx(10.0) and row.paired and row.verdict == "holds"


def test_unknown_term_is_refused_without_the_spec():
    with pytest.raises(ValueError, match="unknown term"):
        dataclasses.replace(sections.LossConfig(), terms=("mil", "toy"))
