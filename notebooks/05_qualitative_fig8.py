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
# # 05 · Fig. 8 and Fig. 5: qualitative timelines
#
# **Fig. 8**: test videos under the full HiM-Net (Table 3's Exp 4): GT (blue), the suppressed
# CAS Ŝ of the video's main GT class (orange) with its top proposals (green boxes), and the
# attention A (green) and background probability B_BG (gray) strips, which the paper shows to be
# predicted oppositely.
#
# **Fig. 5**: one video under several rows of Table 3. The paper compares L_MIL (Exp 1) with
# L_MIL + L_CLL (Exp 2), and the full model (Exp 4) with the model without L_CLL (Exp 6).
#
# Batch runs (papermill) draw the fixed list `videos` (default: the first `n_videos` test videos
# with GT); in JupyterLab set `interactive = True` for a picker over every test video and run.

# %% tags=["parameters"]
profile: str = "smoke"  # a profile of himnet_lib.config.profiles (himnet reproduce --help lists them)
data_root: str = ""  # dataset root; empty for the synthetic preset of the profile, generated under results_dir/data
data_roots: dict = {}  # benchmark -> dataset root, as himnet reproduce passes them; empty: made ready here
seeds: int = 1  # seeds of the study (only `seed` is drawn; kept for a uniform runner interface)
workers: int = 1  # runs trained at once
results_dir: str = ""  # output folder; empty for results/<profile>
executor: str = "local"  # local | slurm (submitit)
slurm: dict = {}  # Slurm settings for executor slurm: partition, time, gpus_per_task, ... (docs/cluster.md)
threads: int = 0  # torch threads per run; 0: $OMP_NUM_THREADS, else cores / workers
via: str = "process"  # train runs in worker processes, or by papermill on 01_train ("notebook")
reading: str = ""  # reading of the paper: literal | lineage; empty for the profile's
videos: list = []  # test videos to draw; empty for the first n_videos test videos with GT
n_videos: int = 3  # how many videos when `videos` is empty
seed: int = 0  # which seed's runs to draw
fig5_rows: list = ["Exp 1", "Exp 2", "Exp 6", "Exp 4"]  # Table 3 rows shown in Fig. 5
interactive: bool = False  # add an ipywidgets picker (JupyterLab only, never under papermill: figures.picker)

# %%

from IPython.display import display

from himnet_lib.datasets import load_dataset
from himnet_lib.engine.executor import run_study_specs
from himnet_lib.study import figures, grids, manifest, run_table, workspace
from himnet_lib.study.figures import picker
from himnet_lib.utils.run_folder import RunDir

results = workspace.results_root(profile, results_dir or None)
data = workspace.main_data(profile, data_root or None, results, data_roots)
runs_dir, figures_dir = results / "runs", results / "figures"

# %%
rows = list(dict.fromkeys([*fig5_rows, "Exp 4"]))
grid = manifest.entry("05_qualitative_fig8").specs(profile, seed + 1, reading=reading)
specs = [s for s in grid if s.seed == seed and s.label in rows]
missing = sorted(set(rows) - {s.label for s in specs})
assert not missing, f"unknown Table 3 rows {missing}; known: {[lab for lab, _ in grids.TABLE3_ROWS]}"
run_study_specs(specs, profile, results, data_root or None, roots=data_roots, workers=workers,
                executor=executor, slurm=slurm, threads=threads or None, via=via)

# the draw these runs trained on (the main benchmark's one draw, or seed `seed`'s under per-seed draws)
ds = run_table.run_dataset(specs[0], runs_dir, load_dataset(data, snippet_seconds=specs[0].config().snippet_seconds))
records = {}
for s in specs:
    run_dir = runs_dir / s.run_id
    records[s.label] = (RunDir(run_dir).outputs(), RunDir(run_dir).predictions())
terms = dict(grids.TABLE3_ROWS)
row_title = {lab: f"{lab}: " + " + ".join(f"L_{t.upper()}" for t in terms[lab]) for lab in rows}

chosen = list(videos) or [v.name for v in ds.test_videos() if len(v.segments)][:n_videos]
test_names = {v.name for v in ds.test_videos()}
unknown = [name for name in chosen if name not in test_names]
assert not unknown, f"not test videos of {data}: {unknown}"
print("videos:", chosen)

# %% [markdown]
# ## Fig. 8: the full model

# %%
outputs, predictions = records["Exp 4"]
for name in chosen:
    video = ds.video(name)
    fig = figures.timeline_for(video, outputs[name], predictions.get(name, []), ds)
    figures.save_figure(fig, f"fig8_{figures.safe_name(name)}", figures_dir)
    figures.show(fig)

# %% [markdown]
# ## Fig. 5: the same video under several Table 3 rows

# %%
def panels_for(name: str) -> dict:
    return {row_title[lab]: {**records[lab][0][name], "proposals": records[lab][1].get(name, [])}
            for lab in fig5_rows}


for name in chosen:
    video = ds.video(name)
    fig = figures.timelines_grid(name, video.segments, video.segment_classes, figures.main_class(video),
                             panels_for(name), ds.snippet_seconds, ds.classes)
    figures.save_figure(fig, f"fig5_{figures.safe_name(name)}", figures_dir)
    figures.show(fig)

# %% [markdown]
# ## Interactive picker (JupyterLab only)

# %%
if interactive:
    all_specs = manifest.entry("05_qualitative_fig8").specs(profile, seeds, reading=reading)
    display(picker.video_picker(all_specs, runs_dir, ds, row_title))
