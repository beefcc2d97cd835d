"""HiM-Net network: shapes, ranges, the Ŝ = S·A and Eq. 3 identities, both fusions, size, autocast."""

import pytest
import torch

from himnet_lib.config.sections import ModelConfig
from himnet_lib.modeling.himnet import AttentionHead, ClassifierHead, CrossModalConsensus, build_model, count_parameters
from himnet_lib.utils.errors import DataError

SMALL = dict(feature_dim=32, num_classes=5, attention_hidden=8, head_hidden=24)


@pytest.mark.parametrize("fusion", ["ccm", "conv"])
@pytest.mark.parametrize("attention", ["modality", "joint"])
@pytest.mark.parametrize("B,T", [(1, 1), (2, 7), (3, 16)])
def test_output_shapes_and_identities(fusion, attention, B, T):
    torch.manual_seed(0)
    cfg = ModelConfig(fusion=fusion, attention=attention, **SMALL)
    out = build_model(cfg)(torch.randn(B, T, 32))
    C1 = cfg.num_classes + 1
    assert out.attention.shape == (B, T)
    assert out.cas.shape == out.cas_supp.shape == out.probs.shape == (B, T, C1)
    assert out.features.shape == (B, T, 32)
    assert len(out.attention_parts) == (2 if attention == "modality" else 1)
    assert all(p.shape == (B, T) for p in out.attention_parts)
    assert torch.all((out.attention > 0) & (out.attention < 1))
    assert torch.equal(out.cas_supp, out.cas * out.attention.unsqueeze(-1))
    torch.testing.assert_close(out.probs.sum(-1), torch.ones(B, T))
    torch.testing.assert_close(out.attention, torch.stack(out.attention_parts).mean(0))


def test_eval_mode_is_deterministic_train_mode_uses_dropout():
    torch.manual_seed(0)
    model = build_model(ModelConfig(**SMALL))
    x = torch.randn(2, 9, 32)
    model.eval()
    assert torch.equal(model(x).cas, model(x).cas)
    model.train()
    assert not torch.equal(model(x).cas, model(x).cas)


def test_attention_logit_dropout_option():
    torch.manual_seed(0)
    head = AttentionHead(16, hidden=8, logit_dropout=1.0)  # every logit dropped -> sigmoid(0)
    x = torch.randn(2, 16, 5)
    head.train()
    assert torch.all(head(x) == 0.5)
    head.eval()
    assert not torch.all(head(x) == 0.5)


def test_blocks_keep_time_length():
    x, y = torch.randn(2, 6, 11), torch.randn(2, 4, 11)
    assert CrossModalConsensus(6, 4)(x, y).shape == (2, 6, 11)
    assert ClassifierHead(6, 3, hidden=10)(x).shape == (2, 3, 11)
    assert AttentionHead(6, hidden=4)(x).shape == (2, 11)


def test_init_is_kaiming_with_zero_bias():
    model = build_model(ModelConfig(**SMALL))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d)]
    assert convs and all(torch.all(m.bias == 0) for m in convs)
    w = model.classifier.body[1][0].weight  # kaiming_uniform_: bound sqrt(6 / fan_in)
    bound = (6 / (w.shape[1] * w.shape[2])) ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound


def test_bad_input_raises():
    model = build_model(ModelConfig(**SMALL))
    with pytest.raises(DataError, match="features"):
        model(torch.randn(2, 5, 31))
    with pytest.raises(DataError):
        model(torch.randn(5, 32))
    with pytest.raises(ValueError):
        ModelConfig(feature_dim=33)
    with pytest.raises(ValueError):
        ModelConfig(fusion="concat")


def test_parameter_count_at_paper_size_about_30M():
    n = count_parameters(build_model(ModelConfig(feature_dim=2048, num_classes=20)))
    print(f"HiM-Net parameters at 2048-d, C=20: {n:,}")
    # CO2-Net uses 34.1 M; our global-context gate is k=1 instead of k=3 (-2 x 2.10 M) -> 29.94 M
    assert n == 29_938_711
    assert 25e6 < n < 40e6


@pytest.mark.parametrize("fusion", ["ccm", "conv"])
def test_smoke_forward_backward_paper_width(fusion):
    torch.manual_seed(0)
    model = build_model(ModelConfig(feature_dim=2048, num_classes=20, fusion=fusion))
    out = model(torch.randn(2, 64, 2048))
    loss = out.cas_supp.logsumexp(-1).mean() + out.attention.mean() + out.features.pow(2).mean()
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_bf16_autocast_cpu():
    torch.manual_seed(0)
    model = build_model(ModelConfig(**SMALL))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.randn(2, 13, 32))
    assert out.cas.dtype == out.attention.dtype == out.probs.dtype == out.cas_supp.dtype == torch.float32
    assert out.features.dtype == torch.bfloat16
    assert torch.isfinite(out.cas).all() and torch.all((out.attention > 0) & (out.attention < 1))
    torch.testing.assert_close(out.probs.sum(-1), torch.ones(2, 13))
    (out.cas_supp.mean() + out.features.float().mean()).backward()
    assert all(p.grad is not None for p in model.parameters())
