"""Run folders written under an earlier rule for run ids, found and renamed to their current ids.

A run's id ends in the first 12 hex digits of its identity (:meth:`himnet_lib.config.run.RunConfig.identity`).
Since run ids leave out the weights of the loss terms a run does not use, the runs of earlier
releases carry ids that today's grids no longer ask for: they are not reused, and a study retrains
them. :func:`stale_run_folders` finds them (one line in the runner's log says so) and
:func:`migrate_runs` (``himnet migrate-runs RUNS_DIR``) renames each to its current id and rewrites
the identity its records and checkpoint hold, so that the study reuses it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from himnet_lib.config.run import RunConfig
from himnet_lib.config.sections import ModelConfig
from himnet_lib.utils.errors import HimnetError, RunError
from himnet_lib.utils.fileio import atomic_write_json
from himnet_lib.utils.run_folder import RunDir, read_record

__all__ = ["stale_run_folders", "migrate_runs", "stale_note"]


def _legacy_identity(config: dict) -> str:
    """The identity rule before run ids left out unused weights: the hash of every setting."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _identities(params: dict) -> tuple[str, str, str] | None:
    """(the run folder's id suffix under the first rule, under today's, today's identity of the saved,
    data-resolved settings), or None for a record this version does not read."""
    try:
        cfg = RunConfig.from_dict(params["config"])
    except (HimnetError, KeyError, TypeError, ValueError):
        return None
    # a run id hashes the settings before the data fills in its dimensions (RunSpec.run_id)
    spec_cfg = dataclasses.replace(cfg, model=dataclasses.replace(
        cfg.model, feature_dim=ModelConfig.feature_dim, num_classes=ModelConfig.num_classes))
    return _legacy_identity(spec_cfg.to_dict())[:12], spec_cfg.identity()[:12], cfg.identity()


def stale_run_folders(runs_dir: str | os.PathLike) -> list[tuple[Path, str, str]]:
    """(folder, its current name, its settings' current identity) of each run folder under
    ``runs_dir`` whose name (a study's ``...-<12 hex>``) or params.json carries an identity that its
    settings no longer give (an earlier identity rule)."""
    root = Path(runs_dir)
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else ():
        run = RunDir(d)
        if not run.params_path.is_file():
            continue
        try:
            params = read_record(run.params_path)
        except RunError:
            continue
        ids = _identities(params)
        if ids is None:
            continue
        _, name, identity = ids
        suffix = d.name[-13:]
        named = len(suffix) == 13 and suffix[0] == "-" and all(ch in "0123456789abcdef" for ch in suffix[1:])
        if named and suffix[1:] != name:   # a study's run folder, named by an earlier identity rule
            out.append((d, d.name[:-12] + name, identity))
        elif params.get("identity") not in (None, identity) and (not named or suffix[1:] == name):
            out.append((d, d.name, identity))
    return out


def stale_note(runs_dir: str | os.PathLike) -> str | None:
    """One line for the runner's log when ``runs_dir`` holds run folders of an earlier id rule."""
    stale = stale_run_folders(runs_dir)
    if not stale:
        return None
    return (f"{len(stale)} run folder(s) in {runs_dir} carry run ids of an earlier himnet (before run ids left "
            f"out the weights of unused loss terms) and are not reused; to keep them: himnet migrate-runs {runs_dir}")


def migrate_runs(runs_dir: str | os.PathLike, log=print) -> list[tuple[str, str]]:
    """Rename every stale run folder of ``runs_dir`` to its current id and rewrite the identity in
    its params.json, metrics.json and checkpoint. A folder whose new name is taken is left as it
    is (said in the log). Returns (old name, new name) of each migrated folder."""
    done = []
    for d, name, now in stale_run_folders(runs_dir):
        target = d.with_name(name)
        if target != d and target.exists():
            log(f"{d.name}: {target.name} exists already; left as it is")
            continue
        run = RunDir(d)
        saved = read_record(run.params_path).get("identity")
        for path in (run.params_path, run.metrics_path):
            if path.is_file():
                record = read_record(path)
                record["identity"] = now
                atomic_write_json(path, record)
        if run.checkpoint_path.is_file():
            from himnet_lib.engine.checkpoints import load_checkpoint, save_checkpoint  # torch, only here
            state = load_checkpoint(run.checkpoint_path, identity=saved, way_out=f"delete {run.checkpoint_path}")
            state["identity"] = now
            save_checkpoint(run.checkpoint_path, {k: v for k, v in state.items() if k != "format"})
        if target != d:
            os.replace(d, target)
        done.append((d.name, target.name))
    log(f"{len(done)} run folder(s) migrated in {runs_dir}")
    return done
