"""The study registry is the one list: the runner, the command line and the README follow it."""

from __future__ import annotations

from himnet_lib.cli import build_parser
from himnet_lib.config.profiles import PROFILES, READINGS
from himnet_lib.config.terms import term_names
from himnet_lib.datasets.synthetic.presets import PRESETS
from himnet_lib.engine import reproduce
from himnet_lib.study import grids, manifest
from himnet_lib.study.report import replace_block
from himnet_lib.utils.paths import PROJECT_ROOT, notebooks_dir


def test_runner_executes_the_registered_notebooks():
    assert reproduce.STUDY_NOTEBOOKS == manifest.study_notebooks()
    for e in manifest.STUDY:
        assert (notebooks_dir() / f"{e.notebook}.ipynb").exists(), e.notebook
        specs = e.grid("smoke", 2, 1, None)
        assert specs and all(isinstance(s, grids.RunSpec) for s in specs), e.notebook


def test_every_claim_is_supported_by_an_entry():
    from himnet_lib.study.claims import declared_claims
    supported = {c for e in manifest.STUDY for c in e.claims()}
    assert {c.name for c in declared_claims()} <= supported


def test_readme_reproduces_table_is_the_registry():
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = readme.split("<!-- reproduces:start -->")[1].split("<!-- reproduces:end -->")[0]
    assert block.strip() == manifest.reproduces_table().strip()


def test_cli_choices_come_from_their_modules():
    c = manifest.cli_choices()
    assert c["profiles"] == list(PROFILES) and c["readings"] == list(READINGS)
    assert c["presets"] == list(PRESETS) and c["loss_terms"] == list(term_names())
    args = build_parser().parse_args(["train", "--data", "d", "--out", "o", "--reading", "lineage"])
    assert args.reading == "lineage"


def test_replace_block_only_touches_its_block():
    text = "a\n<!-- x:start -->\nold\n<!-- x:end -->\nb\n"
    assert replace_block(text, "x", "new") == "a\n<!-- x:start -->\nnew\n<!-- x:end -->\nb\n"
