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
# # 10 · The paper's claims, one by one
#
# Each claim of the paper (Tables 3-5, Figs. 6-7, Table 1's NMS vs Soft-NMS) has one pre-registered
# **primary** test (`himnet_lib.study.claims`: the lineage reading, the min-max read-out, the main
# benchmark), judged against the paper's own effect: *reproduces*, *smaller than claimed*,
# *reversed* or *inconclusive*, from the paired interval at the corrected level (alpha / the number
# of primaries) of the profile's sequential design, which adds seeds only to the primaries still
# inconclusive (`himnet_lib.study.claims_stages`). Every other reading x read-out x benchmark cell
# is a **secondary** (robustness: Benjamini-Hochberg, false-coverage-rate intervals); degenerate
# cells and ACC's fg/bg splits are **diagnostics** without a verdict; a placebo **control** compares
# one configuration with itself on other seeds. `mde` is the smallest effect each row could detect,
# `seeds_needed` the seeds that would detect the paper's effect. Every run's record is saved as
# `runs.csv`, from which the table is rebuilt; `claims_cells.csv` keeps the earlier
# one-verdict-per-cell table for one release.

# %% tags=["parameters"]
profile: str = "smoke"  # a profile of himnet_lib.config.profiles (himnet reproduce --help lists them)
data_root: str = ""  # dataset root; empty for the synthetic preset of the profile, generated under results_dir/data
data_roots: dict = {}  # benchmark -> dataset root, as himnet reproduce passes them; empty: made ready here
seeds: int = 1  # seeds of the Table 3 rows the claims compare
seeds_other: int = 1  # seeds of every other row (Table 4, alpha sweep, Table 5)
workers: int = 1  # runs trained at once
results_dir: str = ""  # output folder; empty for results/<profile>
executor: str = "local"  # local | slurm (submitit)
slurm: dict = {}  # Slurm settings for executor slurm: partition, time, gpus_per_task, ... (docs/cluster.md)
threads: int = 0  # torch threads per run; 0: $OMP_NUM_THREADS, else cores / workers
via: str = "process"  # train runs in worker processes, or by papermill on 01_train ("notebook")
reading: str = ""  # not used here: every claim is tested under both readings

# %%
from IPython.display import Markdown, display

from himnet_lib.engine.executor import run_study_specs
from himnet_lib.study import (
    claims_cells,
    claims_report,
    claims_stages,
    claims_table,
    figures,
    manifest,
    run_table,
    workspace,
)

results = workspace.results_root(profile, results_dir or None)
runs_dir, tables_dir, figures_dir = results / "runs", results / "tables", results / "figures"

# %%
roots = workspace.data_roots(profile, data_root or None, results, data_roots)
u_background = claims_cells.background_u(roots, runs_dir)


def train(specs):
    run_study_specs(specs, profile, results, data_root or None, workers=workers, executor=executor, slurm=slurm,
                    threads=threads or None, via=via, roots=roots)


def records(specs):
    return run_table.run_records(specs, runs_dir, u_background=u_background)


pilot = manifest.entry("10_claims").specs(profile, seeds, max(1, min(seeds_other, seeds)))
specs = claims_stages.staged_claims_specs(profile, pilot, train, records, log=print)
print(f"{len(specs)} runs read ({len(specs) - len(pilot)} added by the sequential stages)")

# %% [markdown]
# ## The claims table

# %%
run_table.write_runs(records(specs), tables_dir)
rebuilt = run_table.read_runs_csv(tables_dir / "runs.csv")
table = claims_table.claims_table(rebuilt)
claims_report.write_claims(table, tables_dir, claims_cells.claims_cells_table(rebuilt))
display(Markdown(claims_report.summary_markdown(claims_report.summary(table))))
display(Markdown("\n\n".join(claims_report.findings_sentences(table))))
display(Markdown(claims_report.to_markdown(table)))

# %%
fig = figures.claims_forest(table)
figures.save_figure(fig, "fig_claims", figures_dir)
figures.show(fig)
