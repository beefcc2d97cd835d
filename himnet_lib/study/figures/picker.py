"""The interactive run/video picker of notebook 05 (JupyterLab): two dropdowns and a timeline.

Kept out of the notebook so that it is tested in-process (``tests/test_picker.py``). Executing a
cell that displays an ``Output`` widget under papermill/nbclient can hang the client after the
kernel has gone idle (nbclient's widget-output capture; seen in CI on notebook 05), so batch runs
leave ``interactive = False`` and never display it.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from himnet_lib.study import figures
from himnet_lib.utils.run_folder import RunDir


def run_choices(specs: Sequence[Any], runs_dir: str | os.PathLike,
                titles: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(label, run_id) for every finished run among ``specs``, labelled "<title> · seed <s>"."""
    titles = titles or {}
    runs_dir = Path(runs_dir)
    return [(f"{titles.get(s.label, s.label)} · seed {s.seed}", s.run_id) for s in specs
            if RunDir(runs_dir / s.run_id).metrics_path.exists()]


def _run_records(run_dir: Path) -> tuple[dict, dict]:
    run = RunDir(run_dir)
    return run.outputs(), run.predictions()


def draw_run_video(runs_dir: str | os.PathLike, run_id: str, name: str, dataset,
                   records=_run_records) -> Any:
    """The timeline figure of test video ``name`` under run ``run_id`` (its outputs and proposals);
    ``records(run_dir)`` returns the run's (outputs, predictions)."""
    run_dir = Path(runs_dir) / run_id
    outputs, preds = records(run_dir)
    if name not in outputs:
        raise KeyError(f"{run_dir / 'outputs.npz'} has no outputs for video {name!r}")
    return figures.timeline_for(dataset.video(name), outputs[name], preds.get(name, []), dataset)


def video_picker(specs: Sequence[Any], runs_dir: str | os.PathLike, dataset,
                 titles: Mapping[str, str] | None = None) -> Any:
    """An ``ipywidgets.interactive``: pick a finished run and a test video, see its timeline."""
    import ipywidgets as widgets  # type: ignore[import-untyped]  # optional: only the interactive path

    choices = run_choices(specs, runs_dir, titles)
    if not choices:
        raise FileNotFoundError(f"no finished run of the given specs under {runs_dir}")
    run_picker = widgets.Dropdown(description="run", options=choices)
    video_picker_ = widgets.Dropdown(description="video", options=[v.name for v in dataset.test_videos()])

    # a run's records are read once, not at every change of the video dropdown (outputs.npz is ~10 MB)
    records = functools.lru_cache(maxsize=4)(_run_records)

    def draw(run_id: str, name: str) -> None:
        figures.show(draw_run_video(runs_dir, run_id, name, dataset, records))

    return widgets.interactive(draw, run_id=run_picker, name=video_picker_)
