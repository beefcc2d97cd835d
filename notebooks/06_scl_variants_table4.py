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
# # 06 · Table 4: variants of the snippet-level consistency term
#
# MIL + CLL + VCL plus, in turn: the guide loss of HAM-Net / CO2-Net (L_guide), mutual learning
# (L_ml), nothing (w/o L_SCL), L_SCL without its uncertainty weight (U = 1), L_SCL with the
# target-centred U(q‖p), and L_SCL with the self-centred U(p‖q) (the full HiM-Net). Columns:
# mAP at tIoU 0.1/0.3/0.5/0.7, AVG (0.1:0.7) and ACC = the snippet-level foreground-background
# classification accuracy of A, mean ± std over seeds.

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
reading: str = ""  # reading of the paper: literal | lineage; empty for the profile's

# %%
from IPython.display import display

from himnet_lib.engine.executor import run_study_specs
from himnet_lib.study import compare, figures, manifest, run_table, table_files, tables, workspace

results = workspace.results_root(profile, results_dir or None)
runs_dir, tables_dir, figures_dir = results / "runs", results / "tables", results / "figures"

# %%
specs = manifest.entry("06_scl_variants_table4").specs(profile, seeds, reading=reading)
run_study_specs(specs, profile, results, data_root or None, roots=data_roots, workers=workers,
                executor=executor, slurm=slurm, threads=threads or None, via=via)
df = run_table.collect(specs, runs_dir)
table_files.write_table(df, "table4_runs", tables_dir)

# %% [markdown]
# ## Table 4 (ours)

# %%
table = tables.table4(df)
table_files.write_table(table, "table4", tables_dir)
display(table)

# %%
fig = figures.ablation_chart(table, metrics=("average_mAP", "fg_bg_acc"), label_col="Method",
                         title=f"Table 4 ({profile}, {seeds} seed(s)): mean ± std")
figures.save_figure(fig, "fig_table4", figures_dir)
figures.show(fig)

# %% [markdown]
# ## Beside it: the paper's Table 4
# Reference facts typed in from the paper (THUMOS14, single numbers in percent); not comparable
# with numbers on the synthetic benchmark: compare the ordering of the rows.

# %%
display(compare.with_paper(table, "table4", profile))
