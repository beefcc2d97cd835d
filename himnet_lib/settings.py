"""The typed settings of the network, the losses and the peer baselines (the ``model``, ``loss`` and
``baseline`` sections of a run's config), torch-free: reading a run's config needs no torch.
:mod:`himnet_lib.model`, :mod:`himnet_lib.losses` and :mod:`himnet_lib.baselines` re-export them."""

from __future__ import annotations

from dataclasses import dataclass

from .terms import KNOWN_TERMS

__all__ = ["ModelConfig", "LossConfig", "BaselineConfig", "BALANCES", "topk_k", "FUSIONS", "SUPPS", "ATTENTIONS",
           "IMPLS"]

FUSIONS = ("ccm", "conv")
SUPPS = ("product", "include_min")
ATTENTIONS = ("modality", "joint")
IMPLS = ("fast", "reference")


@dataclass
class ModelConfig:
    """Sizes and switches of :class:`~himnet_lib.model.HiMNet`.

    ``feature_dim`` is 2D: the RGB half first, then the flow half (I3D: 1024 + 1024). The caller
    infers it from the data. The classifier outputs ``num_classes + 1`` channels, the last one being
    the background class.
    """

    feature_dim: int = 2048
    num_classes: int = 20
    fusion: str = "ccm"             # "ccm" (CO2-Net cross-modal consensus gating) | "conv" (plain k=1 conv)
    attention: str = "modality"     # "modality" (one head per gated modality, averaged) | "joint" (one head on X)
    attention_hidden: int = 512
    ccm_dropout: float = 0.5        # dropout inside the consensus gates (CO2-Net: 0.5)
    attention_dropout: float = 0.5  # dropout after the first attention conv (CO2-Net: 0.5)
    # CO2-Net also applies dropout (0.5) to the attention *logit* before the sigmoid, which zeroes
    # some logits (attention 0.5) and doubles the others during training. Off by default because
    # the paper does not mention it; set 0.5 to reproduce CO2-Net.
    attention_logit_dropout: float = 0.0
    dropout: float = 0.7            # fusion and classifier dropout (CO2-Net: 0.7)
    # CO2-Net drops X̂ once more (0.7) when it enters the classifier; off by default (the paper's
    # X̂ is the classifier input), 0.7 reproduces CO2-Net.
    head_input_dropout: float = 0.0
    head_hidden: int | None = None  # width of the classifier's k=3 conv; None = feature_dim (2D)
    leaky_slope: float = 0.2
    # Ŝ during TRAINING (the losses' and VCL's Ŝ): "product" = S·A as Sec. 3.2 prints it;
    # "include_min" = CO2-Net's A·(S - min_c S) + min_c S. Eval mode always uses the product
    # (CO2-Net's tester does). The lineage reading selects include_min.
    supp: str = "product"
    # How the forward pass is computed, not what it computes: "reference" runs the nn.Module
    # blocks below (Conv1d, channels-first); "fast" (himnet_lib.fastops) computes the same function
    # from the same parameters with matrix products in (B,T,C) layout, fused LeakyReLU+dropout and
    # one RNG draw for all dropout masks. Same state_dict either way; train-mode dropout masks differ.
    impl: str = "fast"

    def __post_init__(self) -> None:
        if self.impl not in IMPLS:
            raise ValueError(f"ModelConfig.impl must be one of {IMPLS}, got {self.impl!r}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"ModelConfig.fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.supp not in SUPPS:
            raise ValueError(f"ModelConfig.supp must be one of {SUPPS}, got {self.supp!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"ModelConfig.attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.feature_dim < 1 or self.num_classes < 1 or self.attention_hidden < 1:
            raise ValueError("ModelConfig: feature_dim, num_classes and attention_hidden must be >= 1")
        needs_halves = self.fusion == "ccm" or self.attention == "modality"
        if needs_halves and self.feature_dim % 2:
            raise ValueError(
                f"ModelConfig.feature_dim={self.feature_dim} is odd, but fusion={self.fusion!r} / "
                f"attention={self.attention!r} split it into an RGB and a flow half")

    @property
    def hidden(self) -> int:
        return self.head_hidden if self.head_hidden is not None else self.feature_dim

    @property
    def modality_dim(self) -> int:
        return self.feature_dim // 2


@dataclass(frozen=True)
class BaselineConfig:
    """Hyper-parameters of the peer baselines (the ``baseline`` settings section).

    Defaults are each method's published THUMOS14 values.
    Top-k ratios are fractions of the sampled length T (k = max(1, floor(T / r))), so they carry
    over unchanged to the smoke/demo profiles, which only shorten T: BaS-Net keeps 1/8 of the
    snippets and HAM-Net 1/10 at every T (e.g. smoke T = 48: k = 6 and 4; demo T = 256: 32 and 25).
    Widths come from the ``model`` section (``attention_hidden``, ``head_hidden``, ``dropout``).
    """

    basnet_topk_ratio: float = 8.0       # BaS-Net: k = T // 8 for both branches
    basnet_lambda_l1: float = 1e-4       # BaS-Net: weight of mean_b ||w||_1
    hamnet_topk_ratio: float = 10.0      # HAM-Net: r = 10 (THUMOS14), 20 (ActivityNet)
    hamnet_drop_thr: float = 0.2         # HAM-Net ADL: thr = min a + θ (max a - min a)
    hamnet_drop_weight: float = 0.2      # HAM-Net w (drop_prob): 0.2 THUMOS14, 0.5 ActivityNet
    hamnet_lambda_1: float = 1.0         # lm1 on loss_1 = w·HAL + (1-w)·BCL
    hamnet_lambda_2: float = 1.0         # lm2 on loss_2 = w·SSAL + (1-w)·SAL
    hamnet_lambda_norm: float = 0.8      # α on the sparsity mean(a)
    hamnet_lambda_guide: float = 0.8     # β on the guide loss mean |1 - a - b_bg|
    hamnet_attention_dropout: float = 0.0  # HAM-Net's attention branch has no dropout
    hamnet_scl_replaces_guide: bool = False  # "+ L_SCL": add SCL (False) or swap it for the guide
    hamnet_include_min: bool = True      # HAL/SSAL use w·(S - min_c S) + min_c S, as HAM-Net's code

    def __post_init__(self) -> None:
        if self.basnet_topk_ratio <= 0 or self.hamnet_topk_ratio <= 0:
            raise ValueError("BaselineConfig: top-k ratios must be > 0")
        if not 0.0 <= self.hamnet_drop_thr <= 1.0:
            raise ValueError(f"BaselineConfig.hamnet_drop_thr must be in [0, 1], got {self.hamnet_drop_thr}")
        if not 0.0 <= self.hamnet_drop_weight <= 1.0:
            raise ValueError(f"BaselineConfig.hamnet_drop_weight must be in [0, 1], got {self.hamnet_drop_weight}")
        if not 0.0 <= self.hamnet_attention_dropout < 1.0:
            raise ValueError("BaselineConfig.hamnet_attention_dropout must be in [0, 1)")


def topk_k(T: int, r: float) -> int:
    """Eq. 1's k from a ratio: k = max(1, floor(T / r)). Paper: T=560, r=7 -> 80; T=60, r=10 -> 6."""
    if r <= 0:
        raise ValueError(f"topk ratio must be > 0, got {r}")
    return max(1, int(T // r))


# loss.balance: "printed" uses Eq. 11's λ as printed; "reading" rescales the balanced terms' λ so
# that they keep the printed equations' balance against MIL when a reading changes MIL's scale
# (and SCL's snippet sum when T differs from the paper's): :func:`effective_weights`.
BALANCES = ("printed", "reading")


@dataclass(frozen=True)
class LossConfig:
    """Which terms enter Eq. 11 and their settings.

    total = L_MIL + L_CLL + λ_vcl·L_VCL + λ_scl·L_SCL + λ_guide·L_guide + λ_ml·L_ml (present terms).
    ``topk_k`` (explicit k) overrides ``topk_ratio`` (k = max(1, floor(T/r))). Paper: k = 80 at
    T = 560 (r = 7) on THUMOS14, k = 6 at T = 60 (r = 10) on ActivityNet1.3.
    guide/ml are means over snippets with weight 1.0 by default (CO2-Net weights guide 0.8 and
    averages it over three attentions; set ``lambda_guide=0.8`` to follow it).

    ``extra_terms`` are added to ``terms`` (the reading's additions, so that a table row that sets
    ``terms`` keeps them): the ``lineage`` reading puts CO2-Net's "norm" (λ_norm·mean attention over
    the fused and per-modality attentions) and "mu" (λ_mu·mutual learning of the two modality
    attentions) there. ``lambda_cll`` weights L_CLL (Eq. 11: 1). ``scl_first_u`` is the reading of
    Eq. 10's first uncertainty (:func:`scl_terms`).
    """

    terms: tuple[str, ...] = ("mil", "cll", "vcl", "scl")
    extra_terms: tuple[str, ...] = ()
    topk_ratio: float = 7.0
    topk_k: int | None = None
    mil_target: str = "paper"
    lambda_vcl: float = 1.0
    vcl_margin: float = 0.5
    lambda_scl: float = 0.01
    alpha: float = 4.0
    scl_kl: str = "bernoulli"
    scl_centre: str = "self"
    scl_u_grad: bool = False
    lambda_guide: float = 1.0
    lambda_ml: float = 1.0
    lambda_cll: float = 1.0
    lambda_norm: float = 0.8
    lambda_mu: float = 1.0
    scl_first_u: str = "swapped"
    balance: str = "printed"        # BALANCES; see effective_weights
    balance_seq_len: int = 560      # T at which the printed λ_scl is balanced (the paper's THUMOS14 T)

    @property
    def active_terms(self) -> tuple[str, ...]:
        """``terms`` followed by the ``extra_terms`` not already in it."""
        return tuple(self.terms) + tuple(t for t in self.extra_terms if t not in self.terms)

    def __post_init__(self) -> None:
        unknown = [t for t in (*self.terms, *self.extra_terms) if t not in KNOWN_TERMS]
        if unknown:
            raise ValueError(f"LossConfig.terms: unknown term(s) {unknown}; known: {KNOWN_TERMS}")
        if len(set(self.terms)) != len(self.terms):
            raise ValueError(f"LossConfig.terms has duplicates: {self.terms}")
        if "mil" not in self.terms:
            raise ValueError("LossConfig.terms must contain 'mil' (every row of Tables 3-5 keeps L_MIL)")
        if self.mil_target not in ("paper", "normalized"):
            raise ValueError(f"LossConfig.mil_target must be 'paper' or 'normalized', got {self.mil_target!r}")
        if self.scl_kl not in ("bernoulli", "paper"):
            raise ValueError(f"LossConfig.scl_kl must be 'bernoulli' or 'paper', got {self.scl_kl!r}")
        if self.scl_centre not in ("self", "target", "none"):
            raise ValueError(f"LossConfig.scl_centre must be 'self', 'target' or 'none', got {self.scl_centre!r}")
        if self.scl_first_u not in ("swapped", "printed"):
            raise ValueError(f"LossConfig.scl_first_u must be 'swapped' or 'printed', got {self.scl_first_u!r}")
        if self.topk_k is not None and self.topk_k < 1:
            raise ValueError(f"LossConfig.topk_k must be >= 1, got {self.topk_k}")
        if self.topk_k is None and self.topk_ratio <= 0:
            raise ValueError(f"LossConfig.topk_ratio must be > 0, got {self.topk_ratio}")
        if self.balance not in BALANCES:
            raise ValueError(f"LossConfig.balance must be one of {BALANCES}, got {self.balance!r}")
        if self.balance_seq_len < 1:
            raise ValueError(f"LossConfig.balance_seq_len must be >= 1, got {self.balance_seq_len}")

    def k_for(self, T: int) -> int:
        return self.topk_k if self.topk_k is not None else topk_k(T, self.topk_ratio)
