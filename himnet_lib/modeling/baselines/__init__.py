"""Peer baselines with explicit background modelling, for the generality study (paper Table 5):
BaS-Net (:mod:`.basnet`) and HAM-Net (:mod:`.hamnet`), built from the shared blocks of
:mod:`himnet_lib.modeling.himnet` and trained by the shared trainer (``train.model`` = "basnet" | "hamnet").

``loss.terms`` selects the objective: "mil" is the method's own loss (BaS-Net: two BCE branches
+ L1; HAM-Net: BCL/HAL/SAL/SSAL + sparsity + guide), "cll" adds HiM-Net's L_CLL (Eq. 6) on the
snippet softmax of the base CAS, "scl" adds λ2·L_SCL (Eq. 10) between the method's foreground
estimate and its background probability, with HiM-Net's settings from the ``loss`` section.
Inference is HiM-Net's (attention thresholds, OIC on ``cas_supp``) for every model.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

from torch import nn

from himnet_lib.config.sections import MODELS, BaselineConfig
from himnet_lib.modeling.baselines.basnet import BaSNet, compose_basnet
from himnet_lib.modeling.baselines.common import BASELINE_TERMS, check_terms
from himnet_lib.modeling.baselines.hamnet import HAMNet, compose_hamnet
from himnet_lib.utils.errors import HimnetError

__all__ = ["BASELINES", "BASELINE_TERMS", "BaselineConfig", "BaSNet", "HAMNet", "build",
           "compose_basnet", "compose_hamnet"]

BASELINES = tuple(m for m in MODELS if m != "himnet")  # the names are declared in config.sections


def build(name: str, cfg) -> tuple[nn.Module, Callable]:
    """Model (freshly initialised, on the CPU) and loss composer for baseline ``name``.

    cfg: a :class:`himnet_lib.config.run.RunConfig` (``model`` sizes, ``loss`` terms, ``baseline``
    settings). The composer has the trainer's signature ``compose(out, labels, loss_cfg) ->
    (total, {name: unweighted term})`` with the baseline settings bound.
    """
    settings = getattr(cfg, "baseline", None) or BaselineConfig()
    if name not in BASELINES:
        raise HimnetError(f"unknown model {name!r}; baselines: {', '.join(BASELINES)} (or himnet)")
    check_terms(name, cfg.loss)
    if name == "basnet":
        return BaSNet(cfg.model), partial(compose_basnet, settings=settings)
    return HAMNet(cfg.model, settings), partial(compose_hamnet, settings=settings)
