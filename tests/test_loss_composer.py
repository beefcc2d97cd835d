"""Eq. 11 composer: Table 3 / Table 4 rows are pure configurations; totals are the weighted sums."""

import dataclasses

import pytest
import torch

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.sections import ModelConfig, topk_k
from himnet_lib.modeling.himnet import build_model
from himnet_lib.modeling.losses.compose import compose_losses
from himnet_lib.modeling.losses.mil import mil_loss
from himnet_lib.modeling.losses.scl import scl_loss
from himnet_lib.study.grids import TABLE3_ROWS, TABLE4_ROWS

# The rows live in himnet_lib.study.grids (the runner's single source); here they become LossConfigs.
TABLE3_TERMS = {int(label.split()[1]): terms for label, terms in TABLE3_ROWS}
TABLE4 = dict(TABLE4_ROWS)


def table3_config(exp: int, base: LossConfig | None = None) -> LossConfig:
    return dataclasses.replace(base or LossConfig(), terms=TABLE3_TERMS[exp])


def table4_config(row: str, base: LossConfig | None = None) -> LossConfig:
    return dataclasses.replace(base or LossConfig(), **{k.split(".", 1)[1]: v for k, v in TABLE4[row].items()})


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(0)
    model = build_model(ModelConfig(feature_dim=16, num_classes=4, attention_hidden=8, head_hidden=16))
    x = torch.randn(4, 15, 16)
    labels = torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 1, 0], [0, 1, 0, 0], [0, 1, 0, 1]])
    return model, x, labels


def test_table3_rows_are_mil_plus_every_subset():
    subsets = {frozenset(t) - {"mil"} for t in TABLE3_TERMS.values()}
    assert len(subsets) == 8
    assert subsets == {frozenset(s) for s in ([], ["cll"], ["vcl"], ["scl"], ["cll", "vcl"], ["cll", "scl"],
                                              ["vcl", "scl"], ["cll", "vcl", "scl"])}
    assert TABLE3_TERMS[1] == ("mil",) and set(TABLE3_TERMS[4]) == {"mil", "cll", "vcl", "scl"}
    assert set(TABLE3_TERMS[6]) == {"mil", "vcl", "scl"}  # the "w/o L_CLL" row of the text


@pytest.mark.parametrize("exp", range(1, 9))
def test_table3_config_yields_expected_keys(batch, exp):
    model, x, labels = batch
    total, terms = compose_losses(model(x), labels, table3_config(exp))
    assert set(terms) == set(TABLE3_TERMS[exp])
    assert torch.isfinite(total)


@pytest.mark.parametrize("row,keys,centre", [
    ("L_guide", {"mil", "cll", "vcl", "guide"}, "self"),
    ("L_ml", {"mil", "cll", "vcl", "ml"}, "self"),
    ("w/o L_SCL", {"mil", "cll", "vcl"}, "self"),
    ("L_SCL w/o U(p||q)", {"mil", "cll", "vcl", "scl"}, "none"),
    ("L_SCL with U(q||p)", {"mil", "cll", "vcl", "scl"}, "target"),
    ("L_SCL", {"mil", "cll", "vcl", "scl"}, "self"),
])
def test_table4_rows(batch, row, keys, centre):
    model, x, labels = batch
    cfg = table4_config(row)
    assert cfg.scl_centre == centre
    _, terms = compose_losses(model(x), labels, cfg)
    assert set(terms) == keys
    assert len(TABLE4_ROWS) == 6


def test_scl_rows_differ_only_in_centre(batch):
    model, x, labels = batch
    model.eval()
    out = model(x)
    vals = {row: compose_losses(out, labels, table4_config(row))[1]["scl"].item()
            for row in ("L_SCL w/o U(p||q)", "L_SCL with U(q||p)", "L_SCL")}
    model.train()
    bg = out.probs[..., -1]
    for row, centre in (("L_SCL w/o U(p||q)", "none"), ("L_SCL with U(q||p)", "target"), ("L_SCL", "self")):
        assert vals[row] == pytest.approx(scl_loss(out.attention, bg, 4.0, centre=centre).item(), rel=1e-6)
    assert vals["L_SCL w/o U(p||q)"] > vals["L_SCL"]  # U <= 1 only down-weights


def test_total_is_weighted_sum(batch):
    model, x, labels = batch
    cfg = LossConfig(terms=("mil", "cll", "vcl", "scl", "guide", "ml"), lambda_vcl=0.7, lambda_scl=0.03,
                     lambda_guide=0.8, lambda_ml=0.5)
    total, terms = compose_losses(model(x), labels, cfg)
    w = {"mil": 1, "cll": 1, "vcl": 0.7, "scl": 0.03, "guide": 0.8, "ml": 0.5}
    assert total.item() == pytest.approx(sum(w[k] * v.item() for k, v in terms.items()), rel=1e-6)
    total.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()


def test_k_from_ratio_or_explicit(batch):
    model, x, labels = batch
    model.eval()
    out = model(x)
    model.train()
    T = x.shape[1]
    by_ratio = compose_losses(out, labels, LossConfig(terms=("mil",), topk_ratio=5.0))[1]["mil"]
    assert by_ratio.item() == pytest.approx(mil_loss(out.cas, out.cas_supp, labels, topk_k(T, 5.0)).item())
    explicit = compose_losses(out, labels, LossConfig(terms=("mil",), topk_k=2))[1]["mil"]
    assert explicit.item() == pytest.approx(mil_loss(out.cas, out.cas_supp, labels, 2).item())
    assert LossConfig().k_for(560) == 80 and LossConfig(topk_ratio=10).k_for(60) == 6


@pytest.mark.parametrize("kwargs", [
    {"terms": ("mil", "bce")},
    {"terms": ("cll", "vcl")},             # MIL is required
    {"terms": ("mil", "cll", "cll")},
    {"mil_target": "soft"},
    {"scl_centre": "both"},
    {"scl_kl": "js"},
    {"topk_k": 0},
])
def test_bad_config_raises(kwargs):
    with pytest.raises(ValueError):
        LossConfig(**kwargs)


def test_table_rows_keep_base_settings():
    base = LossConfig(alpha=2.0, topk_k=6)
    cfg = table4_config("L_SCL with U(q||p)", base)
    assert (cfg.alpha, cfg.topk_k, cfg.scl_centre) == (2.0, 6, "target")
    assert table3_config(2, base).terms == ("mil", "cll")
