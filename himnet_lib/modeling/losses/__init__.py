"""HiM-Net's losses (paper Eq. 1-11), Table 4's alternatives and the lineage reading's terms, as pure
functions of tensors; each term's function is registered under its spec's name (:mod:`.registry`)
and :func:`.compose.compose_losses` sums the active ones (Eq. 11).

One module per term: :mod:`.mil` (Eq. 4), :mod:`.cll` (Eq. 6), :mod:`.vcl` (Eq. 7-8), :mod:`.scl`
(Eq. 9-10), :mod:`.alternatives` (Table 4), :mod:`.lineage` (CO2-Net's additions); shared pieces in
:mod:`.common`. Importing the package imports every module in it, so that a new term module
registers itself without an edit here.
"""

import importlib
import pkgutil

from himnet_lib.modeling.losses.alternatives import guide_loss, ml_loss
from himnet_lib.modeling.losses.cll import cll_loss
from himnet_lib.modeling.losses.common import EPS, cce, topk_video_logits
from himnet_lib.modeling.losses.compose import balanced_config, compose_losses, effective_weights, mil_scale_ratio
from himnet_lib.modeling.losses.lineage import modality_mutual_loss, norm_loss
from himnet_lib.modeling.losses.mil import mil_loss
from himnet_lib.modeling.losses.scl import scl_loss, scl_terms, uncertainty
from himnet_lib.modeling.losses.vcl import vcl_loss

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["EPS", "cce", "topk_video_logits", "mil_loss", "cll_loss", "vcl_loss", "uncertainty", "scl_terms",
           "scl_loss", "guide_loss", "ml_loss", "norm_loss", "modality_mutual_loss", "mil_scale_ratio",
           "effective_weights", "balanced_config", "compose_losses"]
