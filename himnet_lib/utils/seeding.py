"""One seed drives everything: python, numpy, torch (initialisation, dropout) and data sampling."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> np.random.Generator:
    """Seed python, numpy's legacy global state and torch; return the numpy Generator used for
    data sampling (its state is checkpointed, so a resumed run draws the same batches)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    # Deterministic mode also fills every new uninitialised tensor with NaN, a pass over memory that
    # costs time per step (docs/performance.md); no code here reads memory before writing it.
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False
    # A separate stream for data so that changing the model (number of dropout draws) does not
    # change which videos are sampled.
    return np.random.default_rng([seed, 0xDA7A])


def rng_state(gen: np.random.Generator) -> dict:
    """Everything needed to continue a run's random streams exactly (for checkpoints)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    # plain types and tensors only: checkpoints are read with torch.load(weights_only=True)
    return {
        "python": random.getstate(),
        "numpy_global": (name, torch.from_numpy(np.asarray(keys).astype(np.int64)), int(pos), int(has_gauss),
                         float(gauss)),
        "numpy_data": gen.bit_generator.state,
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict, gen: np.random.Generator) -> None:
    random.setstate(state["python"])
    name, keys, pos, has_gauss, gauss = state["numpy_global"]
    keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
    np.random.set_state((name, keys.astype(np.uint32), pos, has_gauss, gauss))
    gen.bit_generator.state = state["numpy_data"]
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
