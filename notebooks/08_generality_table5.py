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
# # 08 · Table 5: generality of L_CLL and L_SCL on BaS-Net and HAM-Net
#
# HiM-Net's complementary label learning (L_CLL, Eq. 6) and snippet-level collaborative learning
# (L_SCL, Eq. 10) added to two peers that model the background explicitly, re-implemented in
# `himnet_lib.modeling.baselines` (`train.model` = `basnet` | `hamnet`):
#
# * **BaS-Net**: filtering module w, one CAS module shared by a base branch (X) and a suppressed
#   branch (X·w); its own loss = BCE on the softmax of the top-k (k = T/8) video scores for both
#   branches + 1e-4·‖w‖₁. Rows: BaS-Net, + L_CLL, + L_CLL + L_SCL.
# * **HAM-Net**: attention a and CAS S; its own loss = the four hybrid-attention MIL terms
#   (BCL, HAL, SAL, SSAL; top-k r = 10, w = 0.2) + 0.8·mean(a) + 0.8·guide. Rows: HAM-Net,
#   + L_CLL, + L_SCL.
#
# L_CLL reads the snippet softmax of the base CAS; L_SCL couples the method's foreground estimate
# (w or a) with its background-class probability, with HiM-Net's λ2 = 0.01 and α. Every row is
# trained with the profile's training schedule (as HiM-Net) and **scored with HiM-Net's inference**
# (class-agnostic attention thresholds + OIC on `cas_supp`, the profile's NMS setting), like for
# like; for BaS-Net `cas_supp` is the CAS of the filtered features X·w. Columns: mAP at tIoU
# 0.1/0.3/0.5/0.7 and AVG over 0.1:0.7, mean ± std over `seeds`; Δ = the row's mean AVG minus its
# framework's base row's mean AVG, in points.

# %% tags=["parameters"]
profile: str = "smoke"  # a profile of himnet_lib.config.profiles (himnet reproduce --help lists them)
data_root: str = ""  # dataset root; empty for the synthetic preset of the profile, generated under results_dir/data
data_roots: dict = {}  # benchmark -> dataset root, as himnet reproduce passes them; empty: made ready here
seeds: int = 1  # seeds per row (mean ± std over seeds)
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
specs = manifest.entry("08_generality_table5").specs(profile, seeds)
run_study_specs(specs, profile, results, data_root or None, roots=data_roots, workers=workers,
                executor=executor, slurm=slurm, threads=threads or None, via=via)
df = run_table.collect(specs, runs_dir)
table_files.write_table(df, "table5_runs", tables_dir)
display(df[["label", "seed", "run_id", "average_mAP", "snippet_acc", "fg_bg_acc", "wall_time_s"]])

# %% [markdown]
# ## Table 5 (ours)
# ACC (snippet classification accuracy of the base CAS) is an extra column, not in the paper's
# Table 5; it shows what L_CLL acts on.

# %%
table = tables.table5(df)
table_files.write_table(table, "table5", tables_dir)
display(table[["Framework", "Method", "0.1", "0.3", "0.5", "0.7", "AVG", "Δ", "ACC", "n"]])

# %%
fig = figures.ablation_chart(table, metrics=("average_mAP", "snippet_acc"),
                         title=f"Table 5 ({profile}, {seeds} seed(s), HiM-Net inference): mean ± std")
figures.save_figure(fig, "fig_table5", figures_dir)
figures.show(fig)

# %% [markdown]
# ## Beside it: the paper's Table 5
# **Published numbers (paper Table 5, from `himnet_lib.study.paper_numbers`), THUMOS14 with I3D features, mAP in
# percent; not comparable with numbers on the synthetic benchmark**: compare the sign and size of
# the gains Δ. The paper does not say which inference its BaS-Net/HAM-Net rows use (its BaS-Net
# row is below BaS-Net's own published AVG).

# %%
display(compare.with_paper(table, "table5", profile))
