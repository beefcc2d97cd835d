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
# # 04 · Fig. 7: uncertainty of background snippets, with and without L_SCL
#
# Which U: the weight of the background-probability half of Eq. 10,
# U(b‖1-a) = exp(-α·KL(b‖1-a)) with p = B_BG (the prediction being taught) and q = 1 - A
# (its pseudo target), self-centred, computed by `himnet_lib.evaluation.diagnostics.uncertainty_numpy`
# (Eq. 9 as the loss's `himnet_lib.modeling.losses.scl.uncertainty` computes it, in numpy; with each
# run's own α and KL form from its config) on the saved test-set outputs. U near 1 means the two
# branches agree on the snippet (consensus).
#
# Background snippets: ground-truth background, i.e. snippets whose centre lies in no GT
# instance (`himnet_lib.evaluation.snippet_metrics.snippet_labels`, last column), of every test video, pooled over
# seeds. The paper's claim: with L_SCL the background snippets are separated with more consensus
# (their U mass moves towards 1).

# %% tags=["parameters"]
profile: str = "smoke"  # a profile of himnet_lib.config.profiles (himnet reproduce --help lists them)
data_root: str = ""  # dataset root; empty for the synthetic preset of the profile, generated under results_dir/data
data_roots: dict = {}  # benchmark -> dataset root, as himnet reproduce passes them; empty: made ready here
seeds: int = 1  # seeds per model (U values are pooled over seeds)
workers: int = 1  # runs trained at once
results_dir: str = ""  # output folder; empty for results/<profile>
executor: str = "local"  # local | slurm (submitit)
slurm: dict = {}  # Slurm settings for executor slurm: partition, time, gpus_per_task, ... (docs/cluster.md)
threads: int = 0  # torch threads per run; 0: $OMP_NUM_THREADS, else cores / workers
via: str = "process"  # train runs in worker processes, or by papermill on 01_train ("notebook")
reading: str = ""  # reading of the paper: literal | lineage; empty for the profile's

# %%
from IPython.display import display

from himnet_lib.datasets import load_dataset
from himnet_lib.engine.executor import run_study_specs
from himnet_lib.study import aggregate, figures, manifest, run_table, table_files, tables, workspace

results = workspace.results_root(profile, results_dir or None)
data = workspace.main_data(profile, data_root or None, results, data_roots)
runs_dir, tables_dir, figures_dir = results / "runs", results / "tables", results / "figures"

# %%
specs = manifest.entry("04_uncertainty_kde_fig7").specs(profile, seeds, reading=reading)
run_study_specs(specs, profile, results, data_root or None, roots=data_roots, workers=workers,
                executor=executor, slurm=slurm, threads=threads or None, via=via)

# %% [markdown]
# ## U on ground-truth background snippets

# %%
ds = load_dataset(data, snippet_seconds=specs[0].config().snippet_seconds)
values = run_table.background_values(specs, ds, runs_dir)
table = tables.uncertainty_table(values, specs)
table_files.write_table(table, "fig7_uncertainty", tables_dir)
display(table)

# %%
fig = figures.uncertainty_kde(aggregate.pooled(values),
                          title=f"Fig. 7 ({profile}, {seeds} seed(s)): U(B_BG‖1-A) on GT background")
figures.save_figure(fig, "fig7_uncertainty_kde", figures_dir)
figures.show(fig)
