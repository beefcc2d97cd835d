"""The run records: data identity, the params record and the rule that says whether a saved run is
the one asked for, the history and checkpoint files, and reading the outputs back.

The run directory's files and their one reader are :class:`himnet_lib.rundir.RunDir`.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import pickle
import platform
import subprocess
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import __version__
from .config import RunConfig, flatten
from .device import resolve_amp
from .errors import RunError
from .io import atomic_write, atomic_write_text
from .paths import PROJECT_ROOT
from .rundir import RunDir

SELECTION_LAST = "last iterate"
SELECTION_TEST = "best test-set checkpoint (TEST-SET MODEL SELECTION, peers' protocol)"

# settings filled in from the data, not chosen by the user
DATA_DIMENSIONS = ("model.feature_dim", "model.num_classes")


# --- data identity -------------------------------------------------------------------------------

def dataset_fingerprint(ds) -> str:
    """Hash of the annotations and feature shapes (not feature values: too slow for real data)."""
    h = hashlib.sha256()
    h.update(json.dumps([ds.name, list(ds.classes), ds.snippet_seconds, ds.train_subset,
                         ds.test_subset]).encode())
    for v in ds.videos:
        h.update(v.name.encode())
        h.update(v.subset.encode())
        h.update(np.ascontiguousarray(v.labels, dtype=np.float32).tobytes())
        h.update(np.ascontiguousarray(v.segments, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(v.segment_classes, dtype=np.int64).tobytes())
        h.update(str(v.num_snippets).encode())
    h.update(str(ds.feature_dim).encode())
    return h.hexdigest()[:16]


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None

# --- the params record ---------------------------------------------------------------------------

def params_record(cfg: RunConfig, ds, data_root: str, device: torch.device) -> dict:
    return {
        "config": cfg.to_dict(),
        "identity": cfg.identity(),
        "data": {"root": data_root, "name": ds.name, "fingerprint": dataset_fingerprint(ds),
                 "num_train": len(ds.train_videos()), "num_test": len(ds.test_videos())},
        "selection": SELECTION_TEST if cfg.train.select_on_test else SELECTION_LAST,
        "environment": {
            "himnet_lib": __version__, "git_commit": _git_commit(), "python": platform.python_version(),
            "torch": torch.__version__, "numpy": np.__version__, "device": str(device),
            # what train.amp meant on this device ("auto" resolves per machine: device.resolve_amp)
            "dtype": "bfloat16 autocast" if resolve_amp(cfg.train.amp, device) == "bf16" else "float32",
            "platform": platform.platform(),
        },
    }


def same_run(saved: dict, new: dict, ignore: Sequence[str] = ()) -> list[str]:
    """Differences between a saved params record and a new one (only what defines the run): the
    settings (except the flattened keys in ``ignore``) and the data fingerprint, which is compared
    only when ``new`` has one. Empty when they are the same run."""
    diffs = []
    a, b = flatten(saved.get("config", {})), flatten(new["config"])
    for k in sorted((set(a) | set(b)) - set(ignore)):
        if a.get(k) != b.get(k):
            diffs.append(f"{k}: saved {a.get(k)!r}, now {b.get(k)!r}")
    want = new.get("data", {}).get("fingerprint")
    have = saved.get("data", {}).get("fingerprint")
    if want is not None and have != want:
        diffs.append(f"data fingerprint: saved {have}, now {want}")
    return diffs


# --- reading records back ------------------------------------------------------------------------

# --- files ---------------------------------------------------------------------------------------

def write_history(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())


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


def load_outputs(run_dir: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """Read ``outputs.npz`` back into ``{video: {attention, cas, cas_supp, bg_prob}}``."""
    return RunDir(run_dir).outputs()


def load_predictions(run_dir: str | os.PathLike) -> dict[str, list[dict]]:
    """Read ``predictions.json`` back into ``{video: [{"label", "segment", "score"}, ...]}``."""
    return RunDir(run_dir).predictions()


def load_history(run_dir: str | os.PathLike):
    return RunDir(run_dir).history()
