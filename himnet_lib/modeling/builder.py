"""The one builder of a model variant and its loss composer."""

from __future__ import annotations

from typing import Callable

import torch

from himnet_lib.config.run import RunConfig
from himnet_lib.modeling import baselines
from himnet_lib.modeling.himnet import build_model
from himnet_lib.modeling.losses.compose import compose_losses


def build_variant(cfg: RunConfig) -> tuple[torch.nn.Module, Callable]:
    """Model and loss composer for ``cfg.train.model`` (HiM-Net or a baseline with background class)."""
    name = cfg.train.model
    if name == "himnet":
        return build_model(cfg.model), compose_losses
    return baselines.build(name, cfg)
