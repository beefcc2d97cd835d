"""The typed settings of the network, the losses and the peer baselines (the ``model``, ``loss`` and
``baseline`` sections of a run's config), torch-free: reading a run's config needs no torch.
:mod:`himnet_lib.modeling.himnet`, :mod:`himnet_lib.modeling.losses` and :mod:`himnet_lib.modeling.baselines`
read them."""

from __future__ import annotations

from dataclasses import dataclass

MODELS = ("himnet", "basnet", "hamnet")  # train.model: HiM-Net and the Table 5 baselines
FUSIONS = ("ccm", "conv")
SUPPS = ("product", "include_min")
ATTENTIONS = ("modality", "joint")
IMPLS = ("fast", "reference")


@dataclass
class ModelConfig:
    """Sizes and switches of :class:`~himnet_lib.modeling.himnet.HiMNet`.

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
    # blocks below (Conv1d, channels-first); "fast" (himnet_lib.modeling.fast_path) computes the same function
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


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping settings (paper Sec. 4.1 defaults)."""

    model: str = "himnet"          # model variant: one of MODELS
    iterations: int = 10_000       # fixed number of Adam steps; the LAST iterate is the reported model
    batch_size: int = 10           # videos per batch
    n_pairs: int = 3               # co-action pairs per batch (videos sharing a class), Sec. 4.1
    seq_len: int = 560             # T: snippets sampled per training video
    sampling: str = "perturb"      # perturb (stratified random) | uniform
    lr: float = 3e-5
    weight_decay: float = 1e-3
    seed: int = 0
    log_interval: int = 50         # iterations averaged into one history.csv row
    eval_interval: int = 0         # test-set evaluation for learning curves only (0 = never)
    checkpoint_interval: int = 500  # atomic checkpoint every N iterations
    amp: str = "none"              # none | bf16 (autocast) | auto (bf16 where native: device.resolve_amp)
    # torch.optim.Adam(fused=True): one kernel per parameter instead of a loop of small ops; the same
    # update rule, though the rounding of the last bits may differ from the loop.
    fused_adam: bool = True
    select_on_test: bool = False   # peers' protocol: report the best test-set checkpoint (labelled in outputs)
    # Hyperparameter selection without the test set: > 0 holds out this fraction of the TRAINING
    # videos (with their ground truth, split by val_seed) and evaluates on them instead of the test
    # videos, which such a run never sees (himnet_lib.datasets.dataset.validation_view).
    val_fraction: float = 0.0
    val_seed: int = 0
