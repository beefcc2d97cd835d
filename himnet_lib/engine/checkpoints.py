"""Weights-only checkpoints: written atomically, read without running code, checked against their run."""

from __future__ import annotations

import errno
import pickle
from pathlib import Path

import torch

from himnet_lib.utils.errors import RunError
from himnet_lib.utils.fileio import atomic_write

# Checkpoint format 2 holds tensors and plain types only (read with weights_only=True, which runs
# no code); format 1 pickled numpy arrays and needed the unsafe full unpickler.
CHECKPOINT_FORMAT = 2


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda f: torch.save({**state, "format": CHECKPOINT_FORMAT}, f))


def load_checkpoint(path: Path, map_location=None, *, identity: str | None = None, way_out: str) -> dict:
    """Read a checkpoint without running code (``weights_only=True``) and check its format and, when
    ``identity`` is given, that it belongs to that run. Every failure is one :class:`RunError` line
    naming the file and ``way_out`` (what the user can do)."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise RunError(f"checkpoint {path} is refused: it holds objects other than tensors and plain values "
                       f"(an old format-1 checkpoint, or a planted file), and loading those could run code; "
                       f"{way_out}") from None
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR):
            raise RunError(f"checkpoint {path} cannot be read ({e.strerror or e}); {way_out}") from None
        raise RunError(f"checkpoint {path} is damaged ({e.strerror or e}); {way_out}") from None
    except Exception as e:  # torch reports truncated or damaged archives as RuntimeError, EOFError, ...
        reason = (str(e).strip().splitlines() or [""])[0][:160]
        raise RunError(f"checkpoint {path} is damaged ({type(e).__name__}{': ' + reason if reason else ''}); "
                       f"{way_out}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        have = state.get("format", 1) if isinstance(state, dict) else type(state).__name__
        raise RunError(f"checkpoint {path} has format {have}, this himnet reads format {CHECKPOINT_FORMAT}; "
                       f"{way_out}")
    missing = [k for k in ("model", "iteration") if k not in state]
    if missing:
        raise RunError(f"checkpoint {path} lacks {', '.join(missing)}; {way_out}")
    if identity is not None and state.get("identity") != identity:
        raise RunError(f"checkpoint {path} belongs to run {state.get('identity')}, not to this run {identity}; "
                       f"{way_out}")
    return state
