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
# # 12 · The mechanism map: does each term help where its structure is?
#
# A null result for a loss term means one of two things: the mechanism is broken, or the data gives
# it nothing to work on. Each term exploits one kind of structure: CLL confusable off-label evidence
# (hard negatives, class families), VCL cross-video variation within a class, SCL ambiguous,
# uncertain training snippets, Soft-NMS overlapping or touching instances. Here each structure is
# planted in the synthetic generator by a knob (docs/synthetic_benchmark.md, "Mechanism knobs"), at
# levels from none to more than the benchmarks have (the `study` profile: at least four; `demo` and
# `smoke`: the two ends), and at each level the term's paired effect is measured: the Table 3 row
# with the term against the row without it (CLL: Exp 2 vs Exp 1, VCL: Exp 3 vs Exp 2, SCL: Exp 4
# vs Exp 3), Soft-NMS as Exp 4 scored with Soft-NMS against NMS, same seeds. A positive control
# holds when the effect grows with the structure measure and is clearly positive at the top level.
# The benchmarks are marked on each axis by their own measured structure; `himnet diagnose --data
# DIR` places a user's data on the same axes.

# %% tags=["parameters"]
profile: str = "smoke"  # a profile of himnet_lib.config.profiles (himnet reproduce --help lists them)
data_root: str = ""  # dataset root; empty for the synthetic preset of the profile, generated under results_dir/data
data_roots: dict = {}  # benchmark -> dataset root, as himnet reproduce passes them; empty: made ready here
seeds: int = 1  # seeds of every level's runs (himnet reproduce passes --seeds-other)
workers: int = 1  # runs trained at once
results_dir: str = ""  # output folder; empty for results/<profile>
executor: str = "local"  # local | slurm (submitit)
slurm: dict = {}  # Slurm settings for executor slurm: partition, time, gpus_per_task, ... (docs/cluster.md)
threads: int = 0  # torch threads per run; 0: $OMP_NUM_THREADS, else cores / workers
via: str = "process"  # train runs in worker processes, or by papermill on 01_train ("notebook")
reading: str = ""  # not used here: the sweep runs under the profile's reading

# %%
from IPython.display import Markdown, display

from himnet_lib.engine.executor import run_study_specs
from himnet_lib.study import figures, manifest, mechanism_map, mechanisms, run_table, workspace

results = workspace.results_root(profile, results_dir or None)
runs_dir, tables_dir, figures_dir = results / "runs", results / "tables", results / "figures"

# %% [markdown]
# ## The sweep: structure and effect at each level

# %%
specs = manifest.entry("12_mechanisms").specs(profile, seeds)
run_study_specs(specs, profile, results, data_root or None, workers=workers, executor=executor,
                slurm=slurm, threads=threads or None, via=via, roots=data_roots)
records = run_table.run_records(specs, runs_dir)
measured = mechanisms.structure_records(specs, runs_dir, profile, results, data_root or None, data_roots)
table = mechanism_map.mechanism_table(records, measured, profile)
trends = mechanism_map.trend_table(table)
positions = mechanism_map.positions_table(measured, profile)
mechanism_map.write_mechanisms(table, trends, positions, tables_dir)
display(Markdown(mechanism_map.mechanisms_markdown(table)))

# %% [markdown]
# ## The trend test per term, and the claims each control backs

# %%
display(Markdown(mechanism_map.trends_markdown(trends)))

# %% [markdown]
# ## Where the benchmarks and the variants sit on each term's axis

# %%
display(Markdown(mechanism_map.positions_markdown(positions[positions["term"] != "-"])))

# %%
fig = figures.mechanism_map_chart(table, trends, positions)
figures.save_figure(fig, "fig_mechanism_map", figures_dir)
figures.show(fig)

# %% [markdown]
# ## When each term helps

# %%
display(Markdown("\n".join(f"* {s}" for s in mechanism_map.when_each_term_helps(trends, positions))))
