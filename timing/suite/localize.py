"""The ``localize`` part: localizing one THUMOS-length video (Soft-NMS and NMS), and long videos'
peak memory and time, each in a fresh process (the inputs of ``timing/bench_localize.py``)."""

from __future__ import annotations

import time

import numpy as np

from .part import Context

NAME = "localize"


def bench_localize(repeat: int = 10) -> dict:
    import bench_localize as bl

    from himnet_lib.config.localize import LocalizeConfig
    from himnet_lib.evaluation.localization import localize_video

    att, cas = bl.synthetic_video(np.random.default_rng(0), 2600, 20)
    out = {}
    for nms in ("soft", "nms"):
        cfg = LocalizeConfig(class_threshold=0.0, nms=nms)
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            localize_video(att, cas, cfg, 16 / 25, duration=2600 * 16 / 25)
            best = min(best, time.perf_counter() - t0)
        out[nms] = best * 1000
    # a fresh process per long video: its peak RSS is the process's, not this one's
    long = {str(T): bl.long_video(T, timeout=600) for T in bl.LONG_SIZES}
    return {"localize_per_video_ms": out["soft"], "localize_per_video_ms_hard_nms": out["nms"],
            "localize_input": "T=2600 snippets, 20 classes, class_threshold 0 (worst case)",
            "localize_long_video": long,
            "localize_long_input": "T snippets, 20 classes, default LocalizeConfig, Soft-NMS and NMS from one "
                                   "candidate set; peak_rss_increase_mb over the process's peak before localizing"}


def measure(ctx: Context) -> dict:
    return bench_localize(3 if ctx.quick else 10)


def table_rows(res: dict) -> list[tuple]:
    return [("localize one 2,600-snippet video (Soft-NMS)", res.get("localize_per_video_ms"), "ms"),
            *[(f"localize one {int(T):,}-snippet video (Soft-NMS + NMS): peak RSS increase / time",
               f"{d['peak_rss_increase_mb']:.0f} MB / {d['seconds']:.2f} s" if "seconds" in d else d.get("error"), "")
              for T, d in res.get("localize_long_video", {}).items()]]
