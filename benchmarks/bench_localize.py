"""Time localization of one long video: T = 2,600 snippets (~28 min, the longest THUMOS14 test
videos), C = 20 classes, all 20 selected (class_threshold = 0), 10 attention thresholds.
Target: <= 20 ms per video for Soft-NMS.

The attention is a smoothed random signal with THUMOS-like action coverage (~30 %), so each
threshold yields tens of runs, as a trained model does; Ŝ = S·A with random logits.

Usage: python benchmarks/bench_localize.py [--repeat 20] [--seed 0] [--T 2600]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from himnet_lib.localize import LocalizeConfig, localize_video, threshold_runs


def synthetic_video(rng: np.random.Generator, T: int, C: int) -> tuple[np.ndarray, np.ndarray]:
    noise = rng.normal(0, 1, T + 16)
    smooth = np.convolve(noise, np.hanning(17) / np.hanning(17).sum(), mode="valid")[:T]
    att = 1 / (1 + np.exp(-(smooth * 6 - 2.5)))                 # ~30 % of snippets above 0.5
    cas = rng.normal(0, 1, (T, C + 1)) * att[:, None]
    return att, cas


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--T", type=int, default=2600)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    att, cas = synthetic_video(rng, args.T, 20)
    for nms in ("soft", "nms"):
        cfg = LocalizeConfig(class_threshold=0.0, nms=nms)
        s, _, _ = threshold_runs(att, cfg.thresholds)
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            prop = localize_video(att, cas, cfg, 16 / 25, duration=args.T * 16 / 25)
            best = min(best, time.perf_counter() - t0)
        print(f"localize_video nms={nms}: T={args.T}, 20 classes, {s.size} candidate runs over "
              f"{len(cfg.thresholds)} thresholds -> {len(prop)} proposals: {best * 1000:.1f} ms "
              f"(best of {args.repeat}; target <= 20 ms)")


if __name__ == "__main__":
    main()
