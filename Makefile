# Two commands on a fresh machine (only Python 3.11 and pip needed):
#   make demo   # set up .venv, then regenerate results/demo/ (tables and figures) on the synthetic benchmark
#   make test   # set up .venv, then run the test suite
# Day to day:
#   make lab           # JupyterLab on http://127.0.0.1:$(LAB_PORT) (prints the URL with its token)
#   make lint          # ruff check ., mypy himnet_lib and the import layers (tests/test_layering.py)
#   make test-fast     # the suite without notebook executions and the browser test (2-3 min on 2 cores)
#   make test-browser  # JupyterLab driven by headless Chromium (needs chromium + chromium-driver)
#   make fuzz          # the property tests of every reader and the CLI, long Hypothesis profile (10-15 min)
#
# torch: the setup step installs torch==$(TORCH_VERSION) from whatever index pip is configured with. From
# the public index (PyPI) on Linux that is the default CUDA build, which runs on CPUs too but pulls
# several GB of nvidia-* wheels. TORCH_INDEX installs torch from that index instead, e.g. PyTorch's
# CPU build (a few hundred MB):
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
# TORCH_INDEX replaces pip's index for torch alone (extra indexes and find-links configured for pip
# still take part); torch's dependencies and everything else come from pip's configured index.
# A new TORCH_INDEX (or none after one) reinstalls torch.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
TORCH_VERSION := 2.13.0
TORCH_INDEX ?=
TORCH_KEY   := $(shell printf '%s %s' '$(TORCH_VERSION)' '$(TORCH_INDEX)' | cksum | cut -d' ' -f1)
TORCH_STAMP := $(VENV)/.torch-$(TORCH_KEY)
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)-$(TORCH_KEY)
# printed after the install: which build of torch the environment now has
TORCH_BUILD := import torch; v = torch.version; print('installed torch', torch.__version__ + ':', \
    'CUDA ' + v.cuda + ' build' if v.cuda else 'ROCm ' + v.hip + ' build' if getattr(v, 'hip', None) else 'CPU-only build')
WORKERS ?= 2
SEEDS   ?= 5
SEEDS_OTHER ?= 3

# Keep Jupyter, IPython and matplotlib state inside the checkout, not in the user's home.
CACHE := $(CURDIR)/.cache
export MPLCONFIGDIR       := $(CACHE)/matplotlib
export IPYTHONDIR         := $(CACHE)/ipython
export JUPYTER_CONFIG_DIR := $(CACHE)/jupyter/config
# The checkout's server settings (jupyter/, himnet_lib/engine/lab.py): opening and autosaving a notebook leaves
# git status clean, a notebook's paired .py is not listed beside it, kernels run over IPC.
export JUPYTER_CONFIG_PATH := $(CURDIR)/jupyter
export JUPYTER_DATA_DIR   := $(CACHE)/jupyter/data
export JUPYTER_RUNTIME_DIR:= $(CACHE)/jupyter/runtime
export TQDM_DISABLE       ?= 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

# JupyterLab: one command line for `make lab` and tests/test_browser.py (which runs `make lab-server`
# with its own LAB_PORT, LAB_TOKEN, LAB_DIR and LAB_ARGS=--no-browser).
LAB_PORT ?= 8888
LAB_DIR  ?= notebooks
LAB_ARGS ?=
ifndef LAB_TOKEN
LAB_TOKEN := $(shell od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
endif
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_CMD   = JUPYTER_TOKEN=$(LAB_TOKEN) $(BIN)/jupyter lab --notebook-dir=$(LAB_DIR) --ip=127.0.0.1 \
            --port=$(LAB_PORT) --ServerApp.port_retries=0 $(LAB_ROOT) $(LAB_ARGS)

.PHONY: demo test test-fast test-browser fuzz lint lab lab-server bench setup clean-venv

setup: $(STAMP)

# torch by itself, from TORCH_INDEX: only when TORCH_INDEX is set or was set for the installed torch
# (a fresh .venv without TORCH_INDEX gets torch with the rest, below).
$(TORCH_STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	if [ -n '$(TORCH_INDEX)' ] || ls $(VENV)/.torch-* >/dev/null 2>&1; then \
	    $(BIN)/python -m pip install --quiet --no-deps --force-reinstall \
	        $(if $(TORCH_INDEX),--index-url '$(TORCH_INDEX)') "torch==$(TORCH_VERSION)"; fi
	rm -f $(VENV)/.torch-*
	touch $@

# pip keeps an installed torch==$(TORCH_VERSION), whichever build, and resolves the rest.
$(STAMP): pyproject.toml | $(TORCH_STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" -e ".[dev,cluster]"
	$(BIN)/python -c "$(TORCH_BUILD)"
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	@mkdir -p $(MPLCONFIGDIR) $(IPYTHONDIR)   # before the notebooks start side by side (else IPython warns, falls back to a temp dir)
	$(BIN)/himnet reproduce --profile demo --seeds $(SEEDS) --seeds-other $(SEEDS_OTHER) --workers $(WORKERS)
	$(BIN)/python -m himnet_lib.study.report   # the README's generated blocks, from results/demo/tables

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not notebooks and not browser and not slow"

test-browser: $(STAMP)
	$(BIN)/python -m pytest -q -m browser

# The fuzz tests (marker "fuzz") with the long Hypothesis profile of tests/conftest.py: FUZZ_EXAMPLES
# random examples per property instead of the CI profile's fixed CI_EXAMPLES; failures found are kept
# in .cache/hypothesis and replayed first on the next run (make test runs them with the CI profile).
fuzz: $(STAMP)
	HIMNET_HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -m fuzz

lint: $(STAMP)  # every check reports even when an earlier one finds something
	status=0; $(BIN)/ruff check . || status=1; $(BIN)/mypy himnet_lib || status=1; \
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_layering.py || status=1; exit $$status

lab: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name himnet --display-name "himnet-study (.venv)"
	$(MAKE) --no-print-directory lab-server LAB_TOKEN=$(LAB_TOKEN)

# The server alone, without the setup step (the kernel "python3" is this venv's Python).
lab-server:
	@echo "JupyterLab: open http://127.0.0.1:$(LAB_PORT)/lab?token=$(LAB_TOKEN)"
	$(LAB_CMD)

# One table + results/timing/<machine>.json (~5-10 min on 2 cores). The single-purpose scripts
# (timing/bench_model_step.py, bench_train.py, bench_eval.py, bench_localize.py, bench_data.py,
# bench_gpu.py) still run on their own.
bench: $(STAMP)
	$(BIN)/python timing/bench_all.py
	$(BIN)/python timing/compare_table3.py   # Table 3 float32 reference vs the bf16 demo default
	$(BIN)/python -m himnet_lib.study.report   # the README's generated blocks (bench table included)

clean-venv:
	rm -rf $(VENV)
