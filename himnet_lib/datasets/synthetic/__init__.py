"""The synthetic THUMOS14-like benchmark, written as a W-TALC npy bundle: presets and their knobs
(:mod:`.presets`), named variants ``"<preset>+<field>=<value>"`` (:mod:`.variants`), annotations
(:mod:`.annotations`), snippet features (:mod:`.features`) and the writer (:mod:`.writer`)."""

from himnet_lib.datasets.synthetic.presets import PRESETS, SyntheticConfig, preset_config
from himnet_lib.datasets.synthetic.writer import make_synthetic

__all__ = ["PRESETS", "SyntheticConfig", "preset_config", "make_synthetic"]
