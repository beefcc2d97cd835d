"""One declaration of the study: which notebook reproduces which table or figure of the paper, from
which runs, into which files, supporting which claims. The runner's notebook list and run grid, the
README's "What reproduces what" table and the command-line choices are derived from here (tests
hold the README and a smoke reproduce's files against it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from himnet_lib.config.profiles import READINGS
from himnet_lib.study import claims, grids
from himnet_lib.study.grids import RunSpec

__all__ = ["Entry", "STUDY", "TRAIN_NOTEBOOK", "study_notebooks", "entry", "study_specs", "reproduces_table",
           "cli_choices"]

TRAIN_NOTEBOOK = "01_train"  # the notebook of one training run (the unit of work), by name


def notebook_file(name: str) -> str:
    """The file of notebook ``name`` under ``notebooks/``."""
    return f"{name}.ipynb"

# (profile, seeds of Table 3 rows, seeds of the other rows, reading or None) -> the entry's runs
Grid = Callable[[str, int, int, "str | None"], list[RunSpec]]


@dataclass(frozen=True)
class Entry:
    notebook: str                 # notebooks/<notebook>.ipynb
    paper: str                    # what of the paper it reproduces
    grid: Grid                    # the runs it reads
    outputs: tuple[str, ...]      # the files it writes under results/<profile>/ (glob patterns)
    seeds: str = "other"          # which seed count reproduce passes: "table3", "other" or "both"
    claims_about: tuple[str, ...] = ()  # the study tables whose claims its runs support ("*": every claim)

    def specs(self, profile: str, seeds: int, seeds_other: int | None = None,
              reading: str | None = None) -> list[RunSpec]:
        """The runs of this notebook: ``seeds`` as ``himnet reproduce`` passes them (the Table 3 rows'
        count for seeds "table3" and "both", the other rows' for "other"), ``seeds_other`` for the
        other rows of a "both" entry."""
        other = seeds if seeds_other is None else seeds_other
        return self.grid(profile, seeds, other, reading or None)

    def claims(self) -> tuple[str, ...]:
        """The names of the declared claims (:func:`himnet_lib.study.claims.declared_claims`) its runs support."""
        return tuple(c.name for c in claims.declared_claims()
                     if "*" in self.claims_about or any(t in self.claims_about for t, _ in c.rows()))


def _on_benchmarks(profile: str, make: Callable[[str], list[RunSpec]]) -> list[RunSpec]:
    return [s for bench in grids.benchmarks(profile) for s in make(bench)]


def _mechanism_specs(profile: str, seeds: int) -> list[RunSpec]:
    # imported here: the sweep's module reads statistics and data, which `himnet --help` need not load
    from himnet_lib.study.mechanisms import mechanism_specs
    return mechanism_specs(profile, seeds)


STUDY: tuple[Entry, ...] = (
    Entry("02_ablation_table3", "Table 3 (loss ablation)",
          lambda p, s, o, r: grids.table3_specs(p, s, r),
          ("tables/table3.*", "tables/table3_runs.*", "figures/fig_table3.*"), "table3", ("table3",)),
    Entry("03_alpha_sweep_fig6", "Fig. 6 (α sweep)", lambda p, s, o, r: grids.alpha_specs(p, o, reading=r),
          ("tables/fig6_alpha.*", "figures/fig6_alpha.*"), claims_about=("alpha",)),
    Entry("04_uncertainty_kde_fig7", "Fig. 7 (U on GT background)",
          lambda p, s, o, r: grids.uncertainty_specs(p, o, r),
          ("tables/fig7_uncertainty.*", "figures/fig7_uncertainty_kde.*")),
    Entry("05_qualitative_fig8", "Figs. 5 and 8 (CAS timelines)", lambda p, s, o, r: grids.table3_specs(p, s, r),
          ("figures/fig8_*", "figures/fig5_*"), "table3"),
    Entry("06_scl_variants_table4", "Table 4 (SCL variants)", lambda p, s, o, r: grids.table4_specs(p, o, r),
          ("tables/table4.*", "tables/table4_runs.*", "figures/fig_table4.*"), claims_about=("table4",)),
    Entry("07_comparison_table1", "Tables 1-2 (NMS vs Soft-NMS, peers)",
          lambda p, s, o, r: grids.table1_specs(p, o, r)
          + [x for x in grids.table5_specs(p, o) if x.label in grids.TABLE5_BASE_ROWS],
          ("tables/table1.*", "tables/table1_runs.*", "tables/table1_peers.*", "tables/paper_table1_2.*")),
    Entry("08_generality_table5", "Table 5 (CLL / SCL on BaS-Net, HAM-Net)",
          lambda p, s, o, r: grids.table5_specs(p, o),
          ("tables/table5.*", "tables/table5_runs.*", "figures/fig_table5.*"), claims_about=("table5",)),
    Entry("09_attention_diagnostics", "attention diagnostics, read-outs, schedule selection (not in the paper)",
          lambda p, s, o, r: _on_benchmarks(p, lambda b: [x for rd in READINGS for x in
                                                           grids.table3_specs(p, s, rd, b, rows=grids.CORE_ROWS)])
          + grids.selection_specs(p),
          ("tables/attention_diagnostics.*", "tables/readout_comparison.*", "tables/schedule_selection.*",
           "tables/schedule_choice.*", "figures/fig_readout_comparison.*", "figures/fig_attention_distributions.*",
           "figures/fig_bg_prob_distributions.*", "figures/fig_learning_curves.*"), "table3"),
    Entry("10_claims", "the paper's claims one by one (a primary test each against the paper's effect, "
          "sequential seeds; secondary cells, placebo)", lambda p, s, o, r: claims.claims_specs(p, s, o),
          ("tables/claims.*", "tables/claims_summary.md", "tables/claims_cells.csv", "tables/runs.csv",
           "figures/fig_claims.*"), "both",
          ("*",)),
    Entry("11_dose_response", "each claimed term's weight: dose-response; loss.balance chosen per term on "
          "validation (not in the paper)",
          lambda p, s, o, r: grids.dose_grid(p, s, o) + _on_benchmarks(p, lambda b: grids.balance_specs(p, o, b)),
          ("tables/dose_response.*", "tables/balance_choice.*", "figures/fig_dose_response.*"), "both",
          ("dose",)),
    Entry("12_mechanisms", "the mechanism map: positive controls per term, the benchmarks on each term's "
          "structure axis (not in the paper)", lambda p, s, o, r: _mechanism_specs(p, o),
          ("tables/mechanisms.*", "tables/mechanism_trends.*", "tables/mechanism_positions.*",
           "figures/fig_mechanism_map.*")),
)


def study_notebooks() -> tuple[str, ...]:
    """The study notebooks ``himnet reproduce`` executes (in this order when one at a time)."""
    return tuple(e.notebook for e in STUDY)


def entry(notebook: str) -> Entry:
    for e in STUDY:
        if e.notebook == notebook:
            return e
    raise KeyError(f"no study notebook {notebook!r}; known: {', '.join(study_notebooks())}")


def study_specs(profile: str, seeds: int, seeds_other: int, reading: str | None = None,
                notebooks: tuple[str, ...] | None = None) -> list[RunSpec]:
    """Every run of the given study notebooks (default: all), in registry order, with repeats."""
    return [s for e in STUDY if notebooks is None or e.notebook in notebooks
            for s in e.grid(profile, seeds, seeds_other, reading)]


def reproduces_table() -> str:
    """The README's "What reproduces what" table (Markdown)."""
    lines = ["| paper | notebook | one command | output (under `results/<profile>/`) |", "|---|---|---|---|",
             f"| one training run (the unit of work) | `{TRAIN_NOTEBOOK}` | `himnet train --data D --out RUN` | "
             "`runs/<run_id>/` |"]
    for e in STUDY:
        lines.append(f"| {e.paper} | `{e.notebook}` | `himnet reproduce --notebooks {e.notebook}` | "
                     + ", ".join(f"`{o}`" for o in e.outputs) + " |")
    return "\n".join(lines) + "\n"


def cli_choices() -> dict[str, list[str]]:
    """Choices of the command line, from the modules that define them."""
    from himnet_lib.config.profiles import TIOU_PROTOCOLS, profile_names
    from himnet_lib.config.sections import MODELS
    from himnet_lib.config.terms import term_names
    from himnet_lib.datasets.synthetic.presets import PRESETS
    return {"profiles": list(profile_names()), "readings": list(READINGS), "presets": list(PRESETS),
            "models": list(MODELS), "loss_terms": list(term_names()), "notebooks": list(study_notebooks()),
            "tiou_protocols": list(TIOU_PROTOCOLS)}
