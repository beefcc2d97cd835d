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
# Each claim of the paper (Tables 3-5, Figs. 6-7, Table 1's NMS vs Soft-NMS) is tested under both
# readings of the paper, both attention read-outs and every benchmark of the profile
# (`himnet_lib.study.claims`). `our_effect` is the paired difference over the seeds two rows share (a
# difference of means otherwise), `p` its t-test, `p_adjusted` Holm's adjustment over every row,
# and the verdict comes from the adjusted test (`verdict_2se` keeps the previous 2-SE rule beside
# it). A placebo row compares one configuration with itself on other seeds; rows whose read-out
# finds almost nothing are `n/a (read-out degenerate)`; `dose_response` says at which weights of
# the term (notebook 11) the claim holds. The Table 3 rows and the placebo use `seeds` seeds, the
# other rows `seeds_other`. Every run's record is saved as `runs.csv`, from which the table is
# rebuilt.

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
from himnet_lib.study import claims_report, claims_table, figures, manifest, run_table, workspace

results = workspace.results_root(profile, results_dir or None)
runs_dir, tables_dir, figures_dir = results / "runs", results / "tables", results / "figures"

# %%
specs = manifest.entry("10_claims").specs(profile, seeds, max(1, min(seeds_other, seeds)))
roots = run_study_specs(specs, profile, results, data_root or None, workers=workers, executor=executor,
                        slurm=slurm, threads=threads or None, via=via, roots=data_roots)

# %% [markdown]
# ## The claims table

# %%
records = run_table.run_records(specs, runs_dir, u_background=claims_table.background_u(roots, runs_dir))
run_table.write_runs(records, tables_dir)
table = claims_table.claims_table(run_table.read_runs_csv(tables_dir / "runs.csv"))
claims_report.write_claims(table, tables_dir)
display(Markdown(claims_report.summary_markdown(claims_report.summary(table))))
display(Markdown(claims_report.to_markdown(table)))

# %%
fig = figures.claims_forest(table)
figures.save_figure(fig, "fig_claims", figures_dir)
figures.show(fig)
