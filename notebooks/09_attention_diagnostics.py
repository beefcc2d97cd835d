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
# # 09 · Attention diagnostics: is a difference better localization or a rescaled attention?
#
# Detection mAP depends on how the attention A meets the FIXED proposal thresholds
# `linspace(0.1, 0.9, 10)`. Before any difference between rows is explained, this notebook checks
# threshold-free quantities of the same runs (`himnet_lib.evaluation.diagnostics`):
#
# * the ROC-AUC of A against the ground-truth foreground mask (pooled, and per video),
# * A's per-video range, and B_BG on ground-truth foreground vs background snippets,
# * the share of snippets whose argmax is a class absent from the video's labels (what CLL targets),
# * AVG mAP under the fixed read-out and under a per-video min-max read-out of A
#   (`localize.attention_norm`), scored from the same saved outputs (no retraining).
#
# Rows: Table 3's Exp 1-4 under both readings of the paper (`literal`: Eq. 1-11 as printed;
# `lineage`: plus what the authors' CO2-Net code always does), on every benchmark of the profile.
# The learning curves come from the schedule-selection runs, which hold out a validation fold of
# the TRAINING videos and never see the test videos.

# %% tags=["parameters"]
profile: str = "smoke"  # a profile of himnet_lib.config.profiles (himnet reproduce --help lists them)
data_root: str = ""  # dataset root; empty for the synthetic preset of the profile, generated under results_dir/data
data_roots: dict = {}  # benchmark -> dataset root, as himnet reproduce passes them; empty: made ready here
seeds: int = 1  # seeds per row
workers: int = 1  # runs trained at once
results_dir: str = ""  # output folder; empty for results/<profile>
executor: str = "local"  # local | slurm (submitit)
slurm: dict = {}  # Slurm settings for executor slurm: partition, time, gpus_per_task, ... (docs/cluster.md)
threads: int = 0  # torch threads per run; 0: $OMP_NUM_THREADS, else cores / workers
via: str = "process"  # train runs in worker processes, or by papermill on 01_train ("notebook")
reading: str = ""  # not used here: both readings are shown side by side

# %%
import pandas as pd
from IPython.display import display

from himnet_lib.datasets import load_dataset
from himnet_lib.engine.executor import run_study_specs
from himnet_lib.evaluation.snippet_metrics import snippet_labels
from himnet_lib.study import figures, grids, manifest, run_table, schedule_selection, table_files, tables, workspace
from himnet_lib.utils.run_folder import RunDir

results = workspace.results_root(profile, results_dir or None)
runs_dir, tables_dir, figures_dir = results / "runs", results / "tables", results / "figures"
order = list(grids.CORE_ROWS)

# %% [markdown]
# ## Train (or reuse) the runs

# %%
grid = manifest.entry("09_attention_diagnostics").specs(profile, seeds)
specs = [s for s in grid if s.table == "table3"]
selection = [s for s in grid if s.table == "selection"]
roots = run_study_specs(specs + selection, profile, results, data_root or None, workers=workers,
                        executor=executor, slurm=slurm, threads=threads or None, via=via, roots=data_roots)

# %% [markdown]
# ## Diagnostics per Table 3 row, reading and benchmark (mean ± std over seeds)

# %%
df = run_table.run_metrics(specs, runs_dir)
diag = tables.diagnostics_table(df, order)
table_files.write_table(diag, "attention_diagnostics", tables_dir)
display(diag[["benchmark", "reading", "label", "n", "fg_bg_auc", "fg_bg_auc_video", "fg_bg_acc", "attention_range",
              "bg_prob_on_fg", "bg_prob_on_bg", "off_label_argmax_share", "avg[fixed]", "avg[minmax]"]])

# %% [markdown]
# ## The same runs under two read-outs

# %%
readout = tables.readout_table(df, order)
table_files.write_table(readout, "readout_comparison", tables_dir)
fig = figures.readout_comparison(readout)
figures.save_figure(fig, "fig_readout_comparison", figures_dir)
figures.show(fig)

# %% [markdown]
# ## Distributions of A and B_BG on ground-truth foreground and background (first seed, main benchmark)

# %%
ds = load_dataset(roots[specs[0].benchmark], snippet_seconds=specs[0].config().snippet_seconds)
members = {v.name: snippet_labels(v.segments, v.segment_classes, v.num_snippets, ds.snippet_seconds,
                                  ds.num_classes)[:, -1] for v in ds.test_videos()}
att, bgp = {}, {}
for s in specs:
    if s.seed != 0 or s.benchmark != specs[0].benchmark:
        continue
    out = RunDir(runs_dir / s.run_id).outputs()
    for kind, is_bg in (("fg", False), ("bg", True)):
        a = [out[n]["attention"][members[n] == is_bg] for n in members]
        b = [out[n]["bg_prob"][members[n] == is_bg] for n in members]
        att.setdefault(s.reading, {})[f"{s.label} · GT {kind}"] = pd.concat([pd.Series(x) for x in a]).to_numpy()
        bgp.setdefault(s.reading, {})[f"{s.label} · GT {kind}"] = pd.concat([pd.Series(x) for x in b]).to_numpy()
fig = figures.distributions(att, title="A", xlabel="attention A")
figures.save_figure(fig, "fig_attention_distributions", figures_dir)
figures.show(fig)
fig = figures.distributions(bgp, title="B_BG", xlabel="background probability B_BG")
figures.save_figure(fig, "fig_bg_prob_distributions", figures_dir)
figures.show(fig)

# %% [markdown]
# ## Learning curves on the validation fold (schedule selection)
# MIL-only (Exp 1) and the full model (Exp 4) under both readings, evaluated every
# `study.selection_schedule(profile)[1]` iterations on a held-out fold of the training videos: AVG mAP under both
# read-outs and the attention AUC. `schedule_selection.schedule_choice` states the rule (both rows converged:
# within 2 points of their best from then on; score = mean of the two); the demo profile's
# reading, read-out, lr, λ_norm and iterations are the chosen row (docs/findings.md).

# %%
curves = schedule_selection.selection_curves(selection, runs_dir)
sel = schedule_selection.selection_table(curves)
table_files.write_table(sel, "schedule_selection", tables_dir)
display(sel.pivot_table(index="run", columns="iteration", values="val AVG minmax").round(1))
choice = schedule_selection.schedule_choice(curves)
table_files.write_table(choice, "schedule_choice", tables_dir)
display(choice.sort_values("score", ascending=False).round(2))
fig = figures.learning_curves(curves)
figures.save_figure(fig, "fig_learning_curves", figures_dir)
figures.show(fig)
