"""Generating a synthetic benchmark and writing it as a W-TALC npy bundle."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from himnet_lib.datasets.bundle import write_bundle
from himnet_lib.datasets.synthetic.annotations import (
    SyntheticAnnotations,
    annotation_statistics,
    generate_annotations,
)
from himnet_lib.datasets.synthetic.features import generate_features
from himnet_lib.datasets.synthetic.presets import (
    GENERATOR_VERSION,
    MARKER_FILE,
    VERSION_1_FIELDS,
    SyntheticConfig,
)
from himnet_lib.datasets.synthetic.variants import benchmark_config, canonical_benchmark
from himnet_lib.utils.errors import DataError
from himnet_lib.utils.fileio import atomic_write_json, umask_mode


def generate(preset: str | SyntheticConfig,
             seed: int = 0) -> tuple[SyntheticConfig, SyntheticAnnotations, list[np.ndarray]]:
    """In-memory benchmark: (config, annotations, features). ``preset``: a preset, a variant name
    (:mod:`himnet_lib.datasets.synthetic.variants`) or a config."""
    cfg = benchmark_config(preset)
    rng = np.random.default_rng(seed)
    ann = generate_annotations(cfg, rng)
    return cfg, ann, generate_features(cfg, ann, rng)


def synthetic_stats(preset: str | SyntheticConfig, seed: int = 0, subset: str | None = None) -> dict:
    """Statistics of the annotations a preset/seed generates (no features are drawn)."""
    cfg = benchmark_config(preset)
    return annotation_statistics(generate_annotations(cfg, np.random.default_rng(seed)), cfg, subset)


def _marker_config(cfg: SyntheticConfig) -> dict:
    d = json.loads(json.dumps(asdict(cfg)))
    default = json.loads(json.dumps(asdict(SyntheticConfig())))
    return {k: v for k, v in d.items() if k in VERSION_1_FIELDS or v != default[k]}


def make_synthetic(preset: str | SyntheticConfig, seed: int = 0, out: str | os.PathLike = ".") -> Path:
    """Write the benchmark as a W-TALC bundle at ``out`` (``<name>-I3D-JOINTFeatures.npy`` +
    ``<name>-Annotations/``) and return ``out``.

    Written into a temporary sibling directory and renamed into place. An existing ``out`` is replaced
    only when it is empty or a previous synthetic benchmark (has ``synthetic.json``); anything else
    is refused with DataError, so user data is never overwritten.
    """
    cfg = benchmark_config(preset)
    out = Path(out).absolute()
    if out.exists():
        if not out.is_dir():
            raise DataError("output exists and is not a directory", file=str(out))
        if any(out.iterdir()) and not (out / MARKER_FILE).is_file():
            raise DataError("refusing to overwrite a non-empty directory that is not a synthetic benchmark",
                            file=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    old = None
    try:
        os.chmod(tmp, umask_mode(0o777))  # mkdtemp creates 0700
        _, ann, feats = generate(cfg, seed)
        write_bundle(tmp, cfg.name, classes=ann.classes, videonames=ann.names, subsets=ann.subsets,
                     segments=ann.segments,
                     labels=[[ann.classes[c] for c in cl] for cl in ann.segment_classes],
                     labels_all=[[ann.classes[c] for c in la] for la in ann.labels_all],
                     durations=ann.durations, features=feats, ambiguous=ann.ambiguous)
        name = canonical_benchmark(preset) if isinstance(preset, str) else None
        atomic_write_json(tmp / MARKER_FILE, {"preset": name, "seed": int(seed),
                                              "generator_version": GENERATOR_VERSION,
                                              "config": _marker_config(cfg)})
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "x")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "x").exists() and not out.exists():
            os.replace(old / "x", out)  # put the previous benchmark back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return out
