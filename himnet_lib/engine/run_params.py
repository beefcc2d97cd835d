"""What the trainer writes about a run: the data's identity, the params record and the rule that says
whether a saved run is the one asked for, and the history file (checkpoints: :mod:`.checkpoints`).

The run directory's files and their one reader are :class:`himnet_lib.utils.run_folder.RunDir`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import platform
import subprocess
from pathlib import Path
from typing import Sequence

import numpy as np

from himnet_lib import __version__
from himnet_lib.config.run import RunConfig, flatten, identity_settings
from himnet_lib.utils.fileio import atomic_write_text
from himnet_lib.utils.paths import PROJECT_ROOT

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

def params_record(cfg: RunConfig, ds, data_root: str, device) -> dict:
    """The params record of a run about to train on ``device`` (a ``torch.device``)."""
    import torch  # the trainer's: reading and comparing records needs no torch

    from himnet_lib.utils.device import resolve_amp

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
    settings of :func:`~himnet_lib.config.run.identity_settings` (except the flattened keys in
    ``ignore``) and the data fingerprint, which is compared only when ``new`` has one. Empty when
    they are the same run."""
    diffs = []
    a = flatten(identity_settings(saved.get("config", {})))
    b = flatten(identity_settings(new["config"]))
    for k in sorted((set(a) | set(b)) - set(ignore)):
        if a.get(k) != b.get(k):
            diffs.append(f"{k}: saved {a.get(k)!r}, now {b.get(k)!r}")
    want = new.get("data", {}).get("fingerprint")
    have = saved.get("data", {}).get("fingerprint")
    if want is not None and have != want:
        diffs.append(f"data fingerprint: saved {have}, now {want}")
    return diffs


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
