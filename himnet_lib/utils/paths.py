"""Project paths, resolved from the package location (never from the current directory)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # himnet_lib/ (this file is himnet_lib/utils/paths.py)
PROJECT_ROOT = PACKAGE_DIR.parent


def notebooks_dir() -> Path:
    return PROJECT_ROOT / "notebooks"


def results_dir() -> Path:
    """``results/`` of the checkout; ``HIMNET_RESULTS`` overrides it (e.g. for tests)."""
    env = os.environ.get("HIMNET_RESULTS")
    return Path(env).resolve() if env else PROJECT_ROOT / "results"


def shared_data_dir() -> Path:
    """Reference annotation files beside the checkout (used by tests only)."""
    return PROJECT_ROOT.parent / "shared" / "data"
