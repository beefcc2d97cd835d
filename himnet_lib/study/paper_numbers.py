"""The paper's published numbers (THUMOS14 / ActivityNet 1.3, real I3D features), in one place.

Reference facts typed in from the paper's tables (mAP and accuracy in percent). They are not
comparable with numbers on the synthetic benchmarks: the study compares the SIGN and size of
effects with them (:mod:`himnet_lib.study.claims`), never the absolute values.
"""

from __future__ import annotations

__all__ = ["TABLE3", "TABLE4", "TABLE5", "TABLE1_2", "TABLE1_PEERS", "FIG6_BEST_ALPHA"]

# Table 3 (loss ablation): Exp -> (AVG mAP 0.1:0.7 mean, std, snippet ACC mean, std).
TABLE3: dict[str, tuple[float, float, float, float]] = {
    "Exp 1": (39.3, 0.6, 61.7, 0.9),
    "Exp 2": (43.7, 0.2, 77.8, 0.4),
    "Exp 3": (44.4, 0.1, 78.6, 0.1),
    "Exp 4": (45.1, 0.1, 78.7, 0.1),
    "Exp 5": (43.7, 0.1, 77.7, 0.2),
    "Exp 6": (42.2, 0.3, 71.5, 0.3),
    "Exp 7": (41.7, 0.5, 71.4, 1.0),
    "Exp 8": (42.6, 0.3, 74.1, 0.2),
}

# Table 4 (SCL variants): row -> (mAP@0.1, @0.3, @0.5, @0.7, AVG 0.1:0.7, fg/bg ACC).
TABLE4: dict[str, tuple[float, float, float, float, float, float]] = {
    "L_guide": (70.3, 55.8, 37.3, 13.3, 44.3, 80.1),
    "L_ml": (70.2, 55.4, 36.9, 13.8, 44.3, 76.6),
    "w/o L_SCL": (70.1, 55.2, 37.0, 13.5, 44.4, 80.1),
    "L_SCL w/o U(p||q)": (69.8, 55.4, 38.1, 14.1, 44.8, 80.1),
    "L_SCL with U(q||p)": (70.2, 56.0, 37.7, 13.4, 44.8, 79.7),
    "L_SCL": (70.4, 55.8, 37.8, 14.0, 45.1, 80.3),
}

# Table 5 (generality): (framework, row) -> (mAP@0.1, @0.3, @0.5, @0.7, AVG 0.1:0.7, Δ or None).
TABLE5: dict[tuple[str, str], tuple[float, float, float, float, float, float | None]] = {
    ("BaS-Net", "BaS-Net"): (56.5, 43.1, 26.0, 9.9, 34.1, None),
    ("BaS-Net", "+ L_CLL"): (59.6, 45.4, 29.6, 10.0, 36.4, 2.3),
    ("BaS-Net", "+ L_CLL + L_SCL"): (60.5, 46.9, 31.5, 11.3, 37.8, 3.7),
    ("HAM-Net", "HAM-Net"): (65.4, 50.3, 31.0, 11.1, 39.8, None),
    ("HAM-Net", "+ L_CLL"): (66.9, 51.3, 32.4, 12.2, 40.9, 1.1),
    ("HAM-Net", "+ L_SCL"): (66.1, 51.8, 31.8, 11.8, 40.7, 0.9),
}

# Tables 1 and 2 (HiM-Net, NMS vs Soft-NMS): (table, dataset, post-processing) -> {tIoU label: mAP},
# plus "AVG" (THUMOS14: 0.1:0.5; ActivityNet 1.3: 0.5:0.05:0.95).
TABLE1_2: dict[tuple[str, str, str], dict[str, float]] = {
    ("Table 1", "THUMOS14", "NMS"): {"0.1": 70.6, "0.2": 65.3, "0.3": 55.9, "0.4": 45.1, "0.5": 35.7,
                                     "0.6": 21.8, "0.7": 10.8, "AVG": 54.5},
    ("Table 1", "THUMOS14", "Soft-NMS"): {"0.1": 70.4, "0.2": 65.0, "0.3": 55.8, "0.4": 46.7, "0.5": 37.8,
                                          "0.6": 25.7, "0.7": 14.0, "AVG": 55.2},
    ("Table 2", "ActivityNet 1.3", "NMS"): {"0.5": 38.6, "0.75": 25.2, "0.95": 5.6, "AVG": 24.8},
    ("Table 2", "ActivityNet 1.3", "Soft-NMS"): {"0.5": 40.8, "0.75": 25.6, "0.95": 6.0, "AVG": 25.6},
}

# Table 1's peers with explicit background modelling, as published (THUMOS14, AVG over 0.1:0.5).
TABLE1_PEERS: dict[tuple[str, str], dict[str, float]] = {
    ("BaS-Net", "NMS"): {"0.1": 58.2, "0.2": 52.3, "0.3": 44.6, "0.4": 36.0, "0.5": 27.0, "0.6": 18.6,
                         "0.7": 10.4, "AVG": 43.6},
    ("HAM-Net", "Soft-NMS"): {"0.1": 65.4, "0.2": 59.0, "0.3": 50.3, "0.4": 41.1, "0.5": 31.0, "0.6": 20.7,
                              "0.7": 11.1, "AVG": 49.4},
}

# Fig. 6: the α sweep (0.5 ... 10) peaks at α = 4 (the figure's values are not given in the text).
FIG6_BEST_ALPHA = 4.0
