"""Figures: what each figure draws (checked against the input arrays), byte-identical PNG/PDF on
rerun (also across processes and under other rcParams), and no pyplot/backend side effects."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from himnet_lib.study.figures import charts, style, timelines, training
from himnet_lib.utils.paths import PROJECT_ROOT

CLASSES = ["c0", "c1", "c2", "c3"]


@pytest.fixture(autouse=True)
def _mpl_home(monkeypatch):
    # matplotlib's font cache goes inside the checkout (as the Makefile does), never into $HOME
    if not os.environ.get("MPLCONFIGDIR"):
        monkeypatch.setenv("MPLCONFIGDIR", str(PROJECT_ROOT / ".cache" / "matplotlib"))


def _timeline_inputs(seed: int = 0, T: int = 60):
    rng = np.random.default_rng(seed)
    cas = rng.normal(size=(T, len(CLASSES) + 1))
    a = rng.uniform(size=T)
    b = 1 - a
    props = [{"label": "c1", "score": 0.9, "segment": [3.0, 10.0]},
             {"label": "c1", "score": 0.4, "segment": [20.0, 25.0]},
             {"label": "c2", "score": 0.8, "segment": [30.0, 33.0]}]
    return np.array([[2.0, 11.0], [19.0, 26.0], [30.0, 34.0]]), np.array([1, 1, 2]), cas, a, b, props


def _all_figures(names=None):
    seg, cls, cas, a, b, props = _timeline_inputs()
    rng = np.random.default_rng(1)
    hist = pd.DataFrame({"iteration": [4, 8, 12], "loss": [3.0, 2.0, 1.5], "mil": [1.0, 0.8, 0.6],
                         "cll": [1.0, 0.9, 0.8], "vcl": [0.3, 0.2, 0.2], "scl": [5.0, 4.0, 3.0]})
    table = pd.DataFrame({"label": ["Exp 1", "Exp 2"], "average_mAP_mean": [0.3, 0.4],
                          "average_mAP_std": [0.01, 0.02], "snippet_acc_mean": [0.6, 0.7],
                          "snippet_acc_std": [0.0, 0.01]})
    sweep = pd.DataFrame({"alpha": [0.5, 0.5, 4.0, 4.0], "average_mAP": [0.3, 0.32, 0.4, 0.41]})
    makers = {
        "loss": lambda: training.loss_curves(hist),
        "ablation": lambda: charts.ablation_chart(table),
        "alpha": lambda: charts.alpha_sweep(sweep),
        "kde": lambda: charts.uncertainty_kde({"w/o L_SCL": rng.beta(2, 2, 300), "with L_SCL": rng.beta(5, 1, 300)}),
        "timeline": lambda: timelines.timeline("v 1", seg, cls, 1, cas, a, b, props, 0.64, CLASSES),
        "grid": lambda: timelines.timelines_grid(
            "v 1", seg, cls, 1, {"Exp 1": dict(cas_supp=cas, attention=a, bg_prob=b, proposals=props),
                                 "Exp 4": dict(cas_supp=cas, attention=a, bg_prob=b, proposals=[])},
            0.64, CLASSES),
    }
    return {name: make() for name, make in makers.items() if names is None or name in names}


def test_save_figure_writes_png_and_pdf_byte_identical_on_rerun(tmp_path):
    # one figure of each kind of artist (bars + error bars, band + lines, seaborn KDE, timeline)
    names = ("ablation", "alpha", "kde", "timeline")
    first = {name: style.save_figure(fig, name, tmp_path / "a") for name, fig in _all_figures(names).items()}
    second = {name: style.save_figure(fig, name, tmp_path / "b") for name, fig in _all_figures(names).items()}
    for name in first:
        assert [p.name for p in first[name]] == [f"{name}.png", f"{name}.pdf"]
        for p, q in zip(first[name], second[name]):
            data = p.read_bytes()
            assert data == q.read_bytes(), f"{p.name} differs between two renderings"
            assert len(data) > 1000
        png, pdf = (p.read_bytes() for p in first[name])
        assert png.startswith(b"\x89PNG") and pdf.startswith(b"%PDF")
        assert b"CreationDate" not in pdf
        assert b"matplotlib version" not in png and b"Software" not in png


def test_output_ignores_caller_rcparams():
    import matplotlib as mpl
    seg, cls, cas, a, b, props = _timeline_inputs()
    plain = style.figure_bytes(timelines.timeline("v", seg, cls, 1, cas, a, b, props, 0.64, CLASSES))
    with mpl.rc_context({"font.size": 20, "figure.dpi": 50, "lines.linewidth": 5, "axes.facecolor": "red"}):
        styled = style.figure_bytes(timelines.timeline("v", seg, cls, 1, cas, a, b, props, 0.64, CLASSES))
    assert plain == styled


def test_png_identical_in_a_fresh_process(tmp_path):
    seg, cls, cas, a, b, props = _timeline_inputs()
    fig = timelines.timeline("v", seg, cls, 1, cas, a, b, props, 0.64, CLASSES)
    here = style.save_figure(fig, "t", tmp_path / "here")
    code = "\n".join([
        "import sys",
        f"sys.path.insert(0, {str(PROJECT_ROOT)!r})",
        "from tests.test_viz import _timeline_inputs, CLASSES",
        "from himnet_lib.study import figures as viz",
        "seg, cls, cas, a, b, props = _timeline_inputs()",
        "fig = viz.timeline('v', seg, cls, 1, cas, a, b, props, 0.64, CLASSES)",
        f"viz.save_figure(fig, 't', {str(tmp_path / 'there')!r})",
    ])
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    for p in here:
        assert p.read_bytes() == (tmp_path / "there" / p.name).read_bytes()


def test_import_has_no_backend_side_effects():
    code = ("import sys, matplotlib; before = matplotlib.rcParams._get_backend_or_none(); "
            "import himnet_lib.study.figures; "
            "assert 'matplotlib.pyplot' not in sys.modules, 'viz imported pyplot'; "
            "assert matplotlib.rcParams._get_backend_or_none() == before")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_pyplot_figures_are_left_open():
    _all_figures()  # seaborn imports pyplot; the figures must still not be registered with it
    import matplotlib.pyplot as plt
    assert plt.get_fignums() == []


def test_timeline_draws_gt_class_proposals_and_strips():
    from matplotlib.patches import Rectangle
    seg, cls, cas, a, b, props = _timeline_inputs()
    fig = timelines.timeline("v", seg, cls, 1, cas, a, b, props, 0.64, CLASSES, top_k=10)
    ax_gt, ax_cas, ax_a, ax_b = fig.axes
    # GT: one span per segment; the shown class (1) dark, the other light
    spans = [p for p in ax_gt.patches]
    assert len(spans) == len(seg)
    alphas = [p.get_alpha() for p in spans]
    assert alphas[0] == alphas[1] > alphas[2]
    # proposals: exactly the two of class c1, as (start, width)
    boxes = sorted((r.get_x(), r.get_width()) for r in ax_cas.patches if isinstance(r, Rectangle))
    assert boxes == [(3.0, 7.0), (20.0, 5.0)]
    # the Ŝ curve is column 1 of cas_supp at the snippet centres
    line = ax_cas.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), cas[:, 1])
    np.testing.assert_allclose(line.get_xdata(), (np.arange(len(a)) + 0.5) * 0.64)
    assert ax_a.get_xlim() == (0.0, len(a) * 0.64)
    assert ax_a.get_ylim() == (0.0, 1.0) and ax_b.get_ylim() == (0.0, 1.0)


def test_timeline_top_k_keeps_highest_scores():
    from matplotlib.patches import Rectangle
    seg, cls, cas, a, b, props = _timeline_inputs()
    fig = timelines.timeline("v", seg, cls, 1, cas, a, b, props, 0.64, CLASSES, top_k=1)
    boxes = [(r.get_x(), r.get_width()) for r in fig.axes[1].patches if isinstance(r, Rectangle)]
    assert boxes == [(3.0, 7.0)]  # the 0.9-score proposal, not the 0.4 one


def test_timeline_rejects_mismatched_shapes():
    seg, cls, cas, a, b, props = _timeline_inputs()
    with pytest.raises(ValueError, match="attention"):
        timelines.timeline("v", seg, cls, 1, cas, a[:-1], b, props, 0.64, CLASSES)
    with pytest.raises(ValueError, match="class_idx"):
        timelines.timeline("v", seg, cls, 9, cas, a, b, props, 0.64, CLASSES)


def test_timelines_grid_one_block_per_run():
    seg, cls, cas, a, b, props = _timeline_inputs()
    panels = {f"Exp {i}": dict(cas_supp=cas * i, attention=a, bg_prob=b, proposals=props) for i in (1, 2, 4)}
    fig = timelines.timelines_grid("v", seg, cls, 1, panels, 0.64, CLASSES)
    assert len(fig.axes) == 4 * 3
    for i, k in enumerate((1, 2, 4)):
        assert fig.axes[4 * i].get_title(loc="left") == f"Exp {k}"
        np.testing.assert_allclose(fig.axes[4 * i + 1].get_lines()[0].get_ydata(), cas[:, 1] * k)


def test_alpha_sweep_line_and_band_are_mean_and_sample_std():
    df = pd.DataFrame({"alpha": [4.0, 0.5, 4.0, 0.5, 10.0], "average_mAP": [0.40, 0.30, 0.44, 0.34, 0.2]})
    fig = charts.alpha_sweep(df)
    ax = fig.axes[0]
    line = [ln for ln in ax.get_lines() if ln.get_marker() == "o"][0]
    groups: dict[float, list[float]] = {}
    for x, y in zip(df["alpha"], df["average_mAP"]):
        groups.setdefault(x, []).append(100 * y)
    xs = sorted(groups)
    means = [sum(groups[x]) / len(groups[x]) for x in xs]
    np.testing.assert_allclose(line.get_xdata(), xs)
    np.testing.assert_allclose(line.get_ydata(), means)
    stds = []
    for x, m in zip(xs, means):
        v = groups[x]
        stds.append(math.sqrt(sum((y - m) ** 2 for y in v) / (len(v) - 1)) if len(v) > 1 else 0.0)
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx(max(m + s for m, s in zip(means, stds)))
    assert band[:, 1].min() == pytest.approx(min(m - s for m, s in zip(means, stds)))


def test_ablation_chart_bars_are_percent_means_with_std_errors():
    table = pd.DataFrame({"label": ["Exp 1", "Exp 2", "Exp 3"], "average_mAP_mean": [0.3, 0.4, 0.45],
                          "average_mAP_std": [0.01, 0.02, 0.0], "snippet_acc_mean": [0.6, 0.7, 0.8],
                          "snippet_acc_std": [0.01, 0.01, 0.01]})
    fig = charts.ablation_chart(table)
    assert len(fig.axes) == 2
    for ax, m in zip(fig.axes, ("average_mAP", "snippet_acc")):
        heights = [p.get_height() for p in ax.patches]
        np.testing.assert_allclose(heights, [100 * v for v in table[f"{m}_mean"]])
        assert [t.get_text() for t in ax.get_xticklabels()] == ["Exp 1", "Exp 2", "Exp 3"]
        from matplotlib.container import ErrorbarContainer
        bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        err = bars[0].lines[2][0].get_segments()
        np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in err], [200 * v for v in table[f"{m}_std"]])


def test_uncertainty_kde_one_curve_per_label_and_constant_values():
    rng = np.random.default_rng(0)
    fig = charts.uncertainty_kde({"w/o L_SCL": rng.beta(2, 2, 200), "with L_SCL": np.full(50, 0.9)})
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["w/o L_SCL (n = 200)", "with L_SCL (n = 50, constant)"]
    assert ax.get_xlim() == (0.0, 1.0)


def test_loss_curves_plots_each_term_and_learning_curves():
    hist = pd.DataFrame({"iteration": [4, 8], "loss": [2.0, 1.0], "mil": [1.0, 0.5], "scl": [3.0, 2.0],
                         "test_average_mAP": [0.1, 0.2]})
    fig = training.loss_curves(hist)
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["total", "L_MIL", "L_SCL"]
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), [10.0, 20.0])
    assert len(training.loss_curves(hist.drop(columns="test_average_mAP")).axes) == 1


def test_main_class_is_the_longest_covered_class():
    class V:
        segments = np.array([[0.0, 2.0], [5.0, 6.0], [7.0, 9.5], [10.0, 10.4]])
        segment_classes = np.array([2, 1, 1, 0])
        labels = np.array([1.0, 1.0, 1.0])
    totals: dict[int, float] = {}
    for (s, e), c in zip(V.segments, V.segment_classes):
        totals[int(c)] = totals.get(int(c), 0.0) + (e - s)
    assert timelines.main_class(V) == max(totals, key=totals.get) == 1

    class Empty:
        segments = np.zeros((0, 2))
        segment_classes = np.zeros(0, dtype=np.int64)
        labels = np.array([0.0, 0.0, 1.0])
    assert timelines.main_class(Empty) == 2


def test_safe_name():
    assert style.safe_name("video_test_0000004") == "video_test_0000004"
    assert style.safe_name("a b/c:d") == "a_b_c_d"
