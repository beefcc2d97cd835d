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
# # 03 · Fig. 6: the uncertainty weight α
#
# The full HiM-Net trained with α ∈ `alphas` (Eq. 9: U(p‖q) = exp(-α·KL)); the paper reports its
# best AVG mAP (tIoU 0.1:0.7) at α = 4 and a clear drop for larger α. Line: mean over seeds;
# band: ± sample std. The α = 4 runs are Table 3's Exp 4 runs (trained once).

# %% tags=["parameters"]
profile: str = "smoke"  # a profile of himnet_lib.config.profiles (himnet reproduce --help lists them)
data_root: str = ""  # dataset root; empty for the synthetic preset of the profile, generated under results_dir/data
data_roots: dict = {}  # benchmark -> dataset root, as himnet reproduce passes them; empty: made ready here
seeds: int = 1  # seeds per alpha
workers: int = 1  # runs trained at once
results_dir: str = ""  # output folder; empty for results/<profile>
executor: str = "local"  # local | slurm (submitit)
slurm: dict = {}  # Slurm settings for executor slurm: partition, time, gpus_per_task, ... (docs/cluster.md)
threads: int = 0  # torch threads per run; 0: $OMP_NUM_THREADS, else cores / workers
via: str = "process"  # train runs in worker processes, or by papermill on 01_train ("notebook")
reading: str = ""  # reading of the paper: literal | lineage; empty for the profile's
alphas: list = [0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0]  # alphas shown: grids.ALPHAS (paper 0.5-10) or a subset

# %%
from IPython.display import display

from himnet_lib.engine.executor import run_study_specs
from himnet_lib.study import figures, manifest, run_table, table_files, tables, workspace

results = workspace.results_root(profile, results_dir or None)
runs_dir, tables_dir, figures_dir = results / "runs", results / "tables", results / "figures"

# %%
specs = [s for s in manifest.entry("03_alpha_sweep_fig6").specs(profile, seeds, reading=reading)
         if s.config().loss.alpha in {float(a) for a in alphas}]
run_study_specs(specs, profile, results, data_root or None, roots=data_roots, workers=workers,
                executor=executor, slurm=slurm, threads=threads or None, via=via)
df = run_table.with_alpha(run_table.collect(specs, runs_dir), specs)

# %% [markdown]
# ## Table behind Fig. 6

# %%
table = tables.alpha_table(df)
table_files.write_table(table, "fig6_alpha", tables_dir)
display(table)

# %%
fig = figures.alpha_sweep(df, x="alpha", y="average_mAP",
                      title=f"Fig. 6 ({profile}, {seeds} seed(s)): AVG mAP (0.1:0.7) vs α")
figures.save_figure(fig, "fig6_alpha", figures_dir)
figures.show(fig)
