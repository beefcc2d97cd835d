"""One registry of the study: which notebook reproduces which table or figure of the paper, from
which grid, into which files. The runner's notebook list, the README's "What reproduces what"
table and the command-line choices are derived from here (and a test checks the README)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Entry", "STUDY", "TRAIN_NOTEBOOK", "study_notebooks", "reproduces_table", "cli_choices"]

TRAIN_NOTEBOOK = "01_train"


@dataclass(frozen=True)
class Entry:
    notebook: str        # notebooks/<notebook>.ipynb
    paper: str           # what of the paper it reproduces
    grid: str            # the himnet_lib.study function(s) giving its runs
    outputs: str         # files under results/<profile>/
    seeds: str = "other"  # which seed count reproduce passes: "table3" (--seeds) or "other" (--seeds-other)


STUDY: tuple[Entry, ...] = (
    Entry("02_ablation_table3", "Table 3 (loss ablation)", "table3_specs",
          "tables/table3.*, tables/table3_runs.*, figures/fig_table3.*", "table3"),
    Entry("03_alpha_sweep_fig6", "Fig. 6 (α sweep)", "alpha_specs", "tables/fig6_alpha.*, figures/fig6_alpha.*"),
    Entry("04_uncertainty_kde_fig7", "Fig. 7 (U on GT background)", "uncertainty_specs",
          "tables/fig7_uncertainty.*, figures/fig7_uncertainty_kde.*"),
    Entry("05_qualitative_fig8", "Figs. 5 and 8 (CAS timelines)", "table3_specs",
          "figures/fig8_<video>.*, figures/fig5_<video>.*", "table3"),
    Entry("06_scl_variants_table4", "Table 4 (SCL variants)", "table4_specs", "tables/table4.*, figures/fig_table4.*"),
    Entry("07_comparison_table1", "Tables 1-2 (NMS vs Soft-NMS, peers)", "table1_specs, table5_specs",
          "tables/table1.*, tables/table1_peers.*, tables/paper_table1_2.*"),
    Entry("08_generality_table5", "Table 5 (CLL / SCL on BaS-Net, HAM-Net)", "table5_specs",
          "tables/table5.*, figures/fig_table5.*"),
    Entry("09_attention_diagnostics", "attention diagnostics, read-outs, schedule selection (not in the paper)",
          "table3_specs, selection_specs",
          "tables/attention_diagnostics.*, tables/readout_comparison.*, tables/schedule_selection.*, "
          "tables/schedule_choice.*, figures/fig_readout_comparison.*, figures/fig_attention_distributions.*, "
          "figures/fig_learning_curves.*", "table3"),
    Entry("10_claims", "the paper's claims one by one (all readings, read-outs, benchmarks)", "claims_specs",
          "tables/claims.*, figures/fig_claims.*", "both"),
)


def study_notebooks() -> tuple[str, ...]:
    """The study notebooks ``himnet reproduce`` executes (in this order when one at a time)."""
    return tuple(e.notebook for e in STUDY)


def reproduces_table() -> str:
    """The README's "What reproduces what" table (Markdown)."""
    lines = ["| paper | notebook | one command | output (under `results/<profile>/`) |", "|---|---|---|---|",
             f"| one training run (the unit of work) | `{TRAIN_NOTEBOOK}` | `himnet train --data D --out RUN` | "
             "`runs/<run_id>/` |"]
    for e in STUDY:
        lines.append(f"| {e.paper} | `{e.notebook}` | `himnet reproduce --notebooks {e.notebook}` | "
                     + ", ".join(f"`{o.strip()}`" for o in e.outputs.split(", ")) + " |")
    return "\n".join(lines) + "\n"


def cli_choices() -> dict[str, list[str]]:
    """Choices of the command line, from the modules that define them."""
    from .baselines import BASELINES
    from .config import PROFILES, READINGS
    from .data.synthetic import PRESETS
    from .losses import KNOWN_TERMS
    return {"profiles": list(PROFILES), "readings": list(READINGS), "presets": list(PRESETS),
            "models": ["himnet", *BASELINES], "loss_terms": list(KNOWN_TERMS)}
