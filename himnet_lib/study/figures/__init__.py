"""Figures of the study: functions that take arrays or tables and return a matplotlib Figure
(torch-free), saved byte-identically by :func:`save_figure`.

* :mod:`.style`: the fixed style, :func:`save_figure`, :func:`show`;
* :mod:`.charts`: the tables' charts (ablations, α sweep, KDE, distributions, read-outs, claims,
  dose-response);
* :mod:`.training`: loss and learning curves;
* :mod:`.mechanisms`: the mechanism map (notebook 12);
* :mod:`.timelines`: one video's timeline (Figs. 5 and 8);
* :mod:`.picker`: the interactive run/video picker of notebook 05 (JupyterLab).
"""

from himnet_lib.study.figures.charts import (
    ablation_chart,
    alpha_sweep,
    claims_forest,
    distributions,
    dose_response_chart,
    readout_comparison,
    uncertainty_kde,
)
from himnet_lib.study.figures.mechanisms import mechanism_map_chart
from himnet_lib.study.figures.style import figure_bytes, new_figure, safe_name, save_figure, show
from himnet_lib.study.figures.timelines import main_class, timeline, timeline_for, timelines_grid
from himnet_lib.study.figures.training import learning_curves, loss_curves

__all__ = ["ablation_chart", "alpha_sweep", "claims_forest", "distributions", "dose_response_chart",
           "readout_comparison", "uncertainty_kde", "mechanism_map_chart", "figure_bytes", "new_figure", "safe_name",
           "save_figure", "show",
           "main_class", "timeline", "timeline_for", "timelines_grid", "learning_curves", "loss_curves"]
