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
# # 11 · How much each loss term helps, by weight
#
# A claim that a term "improves" a metric is a claim at one weight. Here each claimed term's λ
# (CLL on top of MIL, VCL on top of MIL + CLL, SCL on top of MIL + CLL + VCL: the Table 3 rows
# the claims compare) is multiplied by 0 (the row without it), 0.1, 1 (the row itself), 3 and
# 10, under the profile's reading on every benchmark. For each weight: AVG mAP under both
# read-outs, the paper's snippet ACC split into foreground, background and class-balanced ACC,
# the off-label argmax share (what CLL suppresses) and the threshold-free AUC of the attention A.
# Differences are paired over the seeds two rows share.
#
# Before that, the rule that sets the weights when a reading changes MIL's scale
# (`loss.balance`, docs/ambiguities.md) is chosen on a validation fold of the training videos.

# %% tags=["parameters"]
profile: str = "smoke"  # a profile of himnet_lib.config.profiles (himnet reproduce --help lists them)
data_root: str = ""  # dataset root; empty for the synthetic preset of the profile, generated under results_dir/data
data_roots: dict = {}  # benchmark -> dataset root, as himnet reproduce passes them; empty: made ready here
seeds: int = 1  # seeds of the Table 3 rows the dose-response is paired with
seeds_other: int = 1  # seeds of the dose rows and of the balance selection
workers: int = 1  # runs trained at once
results_dir: str = ""  # output folder; empty for results/<profile>
executor: str = "local"  # local | slurm (submitit)
slurm: dict = {}  # Slurm settings for executor slurm: partition, time, gpus_per_task, ... (docs/cluster.md)
threads: int = 0  # torch threads per run; 0: $OMP_NUM_THREADS, else cores / workers
via: str = "process"  # train runs in worker processes, or by papermill on 01_train ("notebook")
reading: str = ""  # not used here: the dose-response runs under the profile's reading

# %%
from IPython.display import Markdown, display

from himnet_lib.engine.executor import run_study_specs
from himnet_lib.study import dose, figures, manifest, run_table, workspace

results = workspace.results_root(profile, results_dir or None)
runs_dir, tables_dir, figures_dir = results / "runs", results / "tables", results / "figures"

# %% [markdown]
# ## Which balance rule: chosen on the validation fold

# %%
grid = manifest.entry("11_dose_response").specs(profile, seeds, max(1, min(seeds_other, seeds)))
balance = [s for s in grid if s.table == "balance"]
run_study_specs(balance, profile, results, data_root or None, workers=workers, executor=executor,
                        slurm=slurm, threads=threads or None, via=via, roots=data_roots)
choice = dose.balance_choice(run_table.run_records(balance, runs_dir))
display(Markdown(dose.balance_markdown(choice)))

# %% [markdown]
# ## The dose-response

# %%
specs = [s for s in grid if s.table != "balance"]
run_study_specs(specs, profile, results, data_root or None, workers=workers, executor=executor,
                        slurm=slurm, threads=threads or None, via=via, roots=data_roots)
table = dose.dose_response_table(run_table.run_records(specs, runs_dir))
dose.write_dose(table, choice, tables_dir)
display(Markdown(dose.dose_markdown(table)))

# %%
fig = figures.dose_response_chart(table)
figures.save_figure(fig, "fig_dose_response", figures_dir)
figures.show(fig)
