# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Train one HiM-Net run
#
# The unit of work of the study: one configuration, one seed, one run directory holding
# `params.json`, `history.csv`, `metrics.json`, `predictions.json` and `outputs.npz`
# (see `himnet_lib.engine.train`). The study runner (`himnet_lib.engine.executor.run_specs`) trains each run in a
# worker process, or executes this notebook with papermill for every run with `via="notebook"`;
# run it by hand to inspect a single run.
#
# The defaults are the `smoke` profile (tiny synthetic benchmark, a few seconds on a CPU).
# A finished run in `out_dir` is reused, an unfinished one is resumed from its checkpoint.

# %% tags=["parameters"]
profile: str = "smoke"  # a profile of himnet_lib.config.profiles (himnet reproduce --help lists them)
data_root: str = ""  # dataset root; empty for the synthetic preset of the profile, under results/<profile>/data
reading: str = ""  # reading of the paper: literal | lineage; empty for the profile's
losses: str = "mil,cll,vcl,scl"  # comma-separated loss terms (himnet train --help lists them)
alpha: float = 4.0  # alpha of the SCL uncertainty U(p||q) (Eq. 9)
seed: int = 0  # training seed (model init and batch sampling)
iterations: int = 0  # training iterations; 0 for the profile default
overrides: dict = {}  # further settings, "section.key" -> value, e.g. {"train.lr": 1e-4}
out_dir: str = ""  # run directory; empty for results/<profile>/runs/<name from the settings>
threads: int = 0  # torch CPU threads; 0 for the torch default
show_figures: bool = True  # draw the loss curves and timelines
config: dict = {}  # a whole run config (RunConfig.to_dict(), as the study runner passes it); wins over the above

# %%
from pathlib import Path

import pandas as pd
from IPython.display import display

from himnet_lib.config import RunConfig, build_config
from himnet_lib.datasets import load_dataset
from himnet_lib.engine.train import train_run
from himnet_lib.study import figures, workspace
from himnet_lib.utils.run_folder import RunDir

# %% [markdown]
# ## Configuration
# The study runner passes the run's whole config (`config`); by hand, the parameters above are the
# same mapping as `himnet train --reading ... --losses ... --alpha ... --seed ... --set key=value`.

# %%
settings = {**overrides, "loss.terms": [t.strip() for t in losses.split(",") if t.strip()],
            "loss.alpha": alpha, "train.seed": seed}
if iterations:
    settings["train.iterations"] = iterations
cfg = RunConfig.from_dict(config) if config else build_config(profile, settings, reading=reading or None)

# %%
results = workspace.results_root(cfg.profile)
data = workspace.ensure_data(cfg.profile, data_root or None, results)
if out_dir:
    run_dir = Path(out_dir)
else:
    name = "-".join(cfg.loss.terms) + f"_a{cfg.loss.alpha:g}_it{cfg.train.iterations}_s{cfg.train.seed}"
    run_dir = results / "runs" / f"{name}_{cfg.identity()[:8]}"
print(f"data: {data}\nrun:  {run_dir}")
pd.DataFrame(
    [(f"{sec}.{k}", v) for sec, d in cfg.to_dict().items() if isinstance(d, dict) for k, v in d.items()],
    columns=["setting", "value"],
).set_index("setting")

# %% [markdown]
# ## Train, localize, evaluate

# %%
metrics = train_run(cfg, data, run_dir, num_threads=threads or None, progress=False)
print(f"wall time {metrics['wall_time_s']:.1f} s, {metrics['num_params']:,} parameters, "
      f"model: {metrics['selection']}")

# %% [markdown]
# ## Metrics (test subset)
# Detection mAP at each tIoU (ActivityNet evaluation code semantics), the averages over
# 0.1:0.7 (Table 3's AVG) and 0.1:0.5 (Table 1's AVG), the snippet classification accuracy of S
# (Table 3's ACC) and the foreground/background accuracy of A (Table 4's ACC), in percent.

# %%
row = {f"mAP@{t:g}": 100 * m for t, m in zip(metrics["tiou"], metrics["mAP"])}
row["AVG (all tIoU)"] = 100 * metrics["average_mAP"]
if metrics.get("average_mAP_0.1_0.5") is not None:
    row["AVG 0.1:0.5"] = 100 * metrics["average_mAP_0.1_0.5"]
row["snippet ACC"] = 100 * metrics["snippet_acc"]
row["fg/bg ACC"] = 100 * metrics["fg_bg_acc"]
display(pd.DataFrame([row], index=[run_dir.name]).round(2))

# %% [markdown]
# ## Loss curves

# %%
if show_figures:
    figures.show(figures.loss_curves(RunDir(run_dir).history()))

# %% [markdown]
# ## Timelines of two test videos (as Fig. 8)
# GT (blue), suppressed CAS Ŝ of the video's main class (orange) with its top proposals (green),
# attention A (green) and background probability B_BG (gray).

# %%
if show_figures:
    ds = load_dataset(data, snippet_seconds=cfg.snippet_seconds)
    outputs = RunDir(run_dir).outputs()
    predictions = RunDir(run_dir).predictions()
    for video in [v for v in ds.test_videos() if len(v.segments)][:2]:
        figures.show(figures.timeline_for(video, outputs[video.name], predictions.get(video.name, []), ds))
