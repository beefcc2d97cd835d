"""The ``eval`` part: detection mAP over a THUMOS-scale synthetic ground truth and prediction set
(the inputs of ``timing/bench_eval.py``)."""

from __future__ import annotations

import time

import numpy as np

from .part import Context

NAME = "eval"


def bench_eval(repeat: int = 3) -> dict:
    import bench_eval as be

    from himnet_lib.evaluation.detection import THUMOS_TIOU, detection_map
    from himnet_lib.evaluation.groundtruth import gt_from_anet_json
    from himnet_lib.evaluation.predictions import predictions_from_results

    rng = np.random.default_rng(0)
    gt_obj = be.synthetic_gt(rng)
    res_obj = be.synthetic_results(rng, gt_obj)
    gt = gt_from_anet_json(gt_obj, "test")
    pred = predictions_from_results(res_obj)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        detection_map(gt, pred, THUMOS_TIOU)
        best = min(best, time.perf_counter() - t0)
    return {"eval_thumos_scale_s": best, "eval_input": {"videos": len(gt.videos), "gt": gt.num_instances,
                                                          "predictions": len(pred)}}


def measure(ctx: Context) -> dict:
    return bench_eval(1 if ctx.quick else 3)


def table_rows(res: dict) -> list[tuple]:
    return [("detection mAP, THUMOS-scale input", res.get("eval_thumos_scale_s"), "s")]
