"""Evaluation in numpy, no torch: localization at inference (:mod:`.localization`: multi-threshold
proposals, OIC; :mod:`.nms`: NMS and Soft-NMS), ground truth and predictions read and validated
(:mod:`.groundtruth`, :mod:`.predictions`), the exact ActivityNet detection mAP (:mod:`.detection`),
the snippet accuracies (:mod:`.snippet_metrics`), threshold-free diagnostics of A
(:mod:`.diagnostics`), the mechanism map's structure measures (:mod:`.structure`), and scoring a
run's saved outputs under every read-out (:mod:`.scoring`). Imports datasets, config, utils."""
