"""Notebook 05's interactive picker, built and driven in-process (no kernel, no frontend)."""

import dataclasses

import pytest

from himnet_lib.datasets import load_dataset
from himnet_lib.engine.train import train_run
from himnet_lib.study import grids
from himnet_lib.study.figures import picker
from himnet_lib.utils import run_folder

widgets = pytest.importorskip("ipywidgets")


@pytest.fixture(scope="module")
def finished(smoke_root, tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("picker-runs")
    specs = grids.table3_specs("smoke", 1)[:2]
    cfg = specs[0].config()
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, iterations=2, eval_interval=0))
    train_run(cfg, smoke_root, runs_dir / specs[0].run_id, num_threads=1, progress=False, log=lambda s: None)
    return specs, runs_dir, load_dataset(smoke_root)


def test_only_finished_runs_are_offered_with_their_titles(finished):
    specs, runs_dir, _ = finished
    choices = picker.run_choices(specs, runs_dir, {specs[0].label: "Exp 1: L_MIL"})
    assert choices == [("Exp 1: L_MIL · seed 0", specs[0].run_id)]  # specs[1] was never trained


def test_picker_draws_the_chosen_run_and_video(finished, monkeypatch):
    specs, runs_dir, ds = finished
    shown, reads = [], []
    monkeypatch.setattr(picker.figures, "show", lambda fig: shown.append(fig))
    real = run_folder.RunDir.outputs
    monkeypatch.setattr(run_folder.RunDir, "outputs", lambda self: reads.append(self.path) or real(self))
    ui = picker.video_picker(specs, runs_dir, ds)
    run_dd, video_dd = ui.children[0], ui.children[1]
    assert isinstance(run_dd, widgets.Dropdown) and video_dd.options == tuple(v.name for v in ds.test_videos())
    video_dd.value = ds.test_videos()[1].name  # a change redraws
    assert len(shown) == 2
    assert len(reads) == 1  # the run's outputs were read once for both drawings
    assert shown[-1].get_suptitle().startswith(ds.test_videos()[1].name + ":")


def test_unknown_video_and_no_finished_run_are_named(finished, tmp_path):
    specs, runs_dir, ds = finished
    with pytest.raises(KeyError, match="no-such-video"):
        picker.draw_run_video(runs_dir, specs[0].run_id, "no-such-video", ds)
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        picker.video_picker(specs, tmp_path, ds)
