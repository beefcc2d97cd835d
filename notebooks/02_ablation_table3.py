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
# # 02 · Table 3: ablation of the loss terms
#
# Eight loss combinations (Exp 1 = L_MIL only ... Exp 4 = the full HiM-Net), each trained with
# `seeds` seeds; AVG = mean mAP over tIoU 0.1:0.1:0.7 and ACC = snippet-level classification
# accuracy of S, reported as mean ± std over seeds (sample std). Runs that are already finished
# under `results_dir/runs` are reused (a run shared with other tables is trained once).
#
# Exp 5-8's check marks are lost in the paper's extracted text; `himnet_lib.study.grids.TABLE3_ROWS`
# documents the subsets used.

# %% tags=["parameters"]
profile: str = "smoke"  # a profile of himnet_lib.config.profiles (himnet reproduce --help lists them)
data_root: str = ""  # dataset root; empty for the synthetic preset of the profile, generated under results_dir/data
data_roots: dict = {}  # benchmark -> dataset root, as himnet reproduce passes them; empty: made ready here
seeds: int = 1  # seeds per row (the paper reports mean ± std over several)
workers: int = 1  # runs trained at once
results_dir: str = ""  # output folder; empty for results/<profile>
executor: str = "local"  # local | slurm (submitit)
slurm: dict = {}  # Slurm settings for executor slurm: partition, time, gpus_per_task, ... (docs/cluster.md)
threads: int = 0  # torch threads per run; 0: $OMP_NUM_THREADS, else cores / workers
via: str = "process"  # train runs in worker processes, or by papermill on 01_train ("notebook")
reading: str = ""  # reading of the paper: literal | lineage; empty for the profile's

# %%
from IPython.display import display

from himnet_lib.engine.executor import run_study_specs
from himnet_lib.study import compare, figures, manifest, run_table, table_files, tables, workspace

results = workspace.results_root(profile, results_dir or None)
runs_dir, tables_dir, figures_dir = results / "runs", results / "tables", results / "figures"

# %% [markdown]
# ## Train (or reuse) every run

# %%
specs = manifest.entry("02_ablation_table3").specs(profile, seeds, reading=reading)
run_study_specs(specs, profile, results, data_root or None, roots=data_roots, workers=workers,
                executor=executor, slurm=slurm, threads=threads or None, via=via)
df = run_table.collect(specs, runs_dir)
table_files.write_table(df, "table3_runs", tables_dir)
display(df[["label", "seed", "run_id", "average_mAP", "snippet_acc", "fg_bg_acc", "wall_time_s"]])

# %% [markdown]
# ## Table 3 (ours)

# %%
table = tables.table3(df)
table_files.write_table(table, "table3", tables_dir)
display(table)

# %%
fig = figures.ablation_chart(table, metrics=("average_mAP", "snippet_acc"), label_col="Exp",
                         title=f"Table 3 ({profile}, {seeds} seed(s)): mean ± std")
figures.save_figure(fig, "fig_table3", figures_dir)
figures.show(fig)

# %% [markdown]
# ## Beside it: the paper's Table 3
# Reference facts typed in from the paper (THUMOS14 with I3D features, mean ± std over seeds);
# not comparable with numbers on the synthetic benchmark: compare the ordering of the rows.

# %%
display(compare.with_paper(table, "table3", profile))
