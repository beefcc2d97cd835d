# Two commands on a fresh machine (only Python 3.11 and pip needed):
#   make demo   # set up .venv, then regenerate results/demo/ (tables and figures) on the synthetic benchmark
#   make test   # set up .venv, then run the test suite
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
WORKERS ?= 2
SEEDS   ?= 3

# Keep Jupyter, IPython and matplotlib state inside the checkout, not in the user's home.
CACHE := $(CURDIR)/.cache
export MPLCONFIGDIR       := $(CACHE)/matplotlib
export IPYTHONDIR         := $(CACHE)/ipython
export JUPYTER_CONFIG_DIR := $(CACHE)/jupyter/config
export JUPYTER_DATA_DIR   := $(CACHE)/jupyter/data
export JUPYTER_RUNTIME_DIR:= $(CACHE)/jupyter/runtime
export TQDM_DISABLE       ?= 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: demo test lab bench setup clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch is pinned here: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "torch==2.13.0" -e ".[dev,cluster]"
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(BIN)/himnet reproduce --profile demo --seeds $(SEEDS) --workers $(WORKERS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lab: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name himnet --display-name "himnet-study (.venv)"
	$(BIN)/jupyter lab --notebook-dir=notebooks

# One table + results/bench/<machine>.json (~5-10 min on 2 cores). The single-purpose scripts
# (benchmarks/bench_model_step.py, bench_train.py, bench_eval.py, bench_localize.py, bench_data.py,
# bench_gpu.py) still run on their own.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_all.py

clean-venv:
	rm -rf $(VENV)
