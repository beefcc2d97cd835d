"""Time localization of one long video: T = 2,600 snippets (~28 min, the longest THUMOS14 test
videos), C = 20 classes, all 20 selected (class_threshold = 0), 10 attention thresholds.
Target: <= 20 ms per video for Soft-NMS.

The attention is a smoothed random signal with THUMOS-like action coverage (~30 %), so each
threshold yields tens of runs, as a trained model does; Ŝ = S·A with random logits.

Also (``--long``): peak memory and time of one video of 10k, 100k and 1M snippets, each in a fresh
subprocess (peak RSS increase: ``VmHWM`` reset before localizing), default settings (Soft-NMS and NMS).

Usage: python timing/bench_localize.py [--repeat 20] [--seed 0] [--T 2600] [--long 10000,100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from himnet_lib.config.localize import LocalizeConfig
from himnet_lib.evaluation.localization import localize_video, threshold_runs


def synthetic_video(rng: np.random.Generator, T: int, C: int) -> tuple[np.ndarray, np.ndarray]:
    noise = rng.normal(0, 1, T + 16)
    smooth = np.convolve(noise, np.hanning(17) / np.hanning(17).sum(), mode="valid")[:T]
    att = 1 / (1 + np.exp(-(smooth * 6 - 2.5)))                 # ~30 % of snippets above 0.5
    cas = rng.normal(0, 1, (T, C + 1)) * att[:, None]
    return att, cas


LONG_SIZES = (10_000, 100_000, 1_000_000)

# Child process: build the video, then measure the RSS increase and the time of localizing it.
_LONG_CHILD = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[3])
import bench_localize as bl
from himnet_lib.evaluation.localization import LocalizeConfig, localize_video_nms_modes
T, C = int(sys.argv[1]), int(sys.argv[2])
att, cas = bl.synthetic_video(np.random.default_rng(0), T, C)
base = bl.reset_peak_rss_kb()
t0 = time.perf_counter()
out = localize_video_nms_modes(att, cas, LocalizeConfig(), 16 / 25, ("soft", "nms"), duration=T * 16 / 25)
dt = time.perf_counter() - t0
peak = bl.peak_rss_kb()
print(json.dumps({"T": T, "seconds": dt, "peak_rss_increase_mb": (peak - base) / 1024,
                  "peak_rss_mb": peak / 1024, "proposals": {m: len(p) for m, p in out.items()}}))
"""


def peak_rss_kb() -> int:
    """This process's peak RSS (kB): VmHWM, which starts afresh at exec (ru_maxrss would carry the
    parent's peak at fork into a child), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak_rss_kb() -> int:
    """Reset the peak RSS to the current RSS where Linux allows it (``/proc/self/clear_refs``: 5),
    then return the peak, the baseline of a measurement."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return peak_rss_kb()


def long_video(T: int, C: int = 20, timeout: float | None = None) -> dict:
    """Peak RSS increase (MB) and seconds of localizing one T-snippet video under both NMS modes
    (default :class:`LocalizeConfig`), in a fresh subprocess; ``{"error": ...}`` when it fails."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    try:
        proc = subprocess.run([sys.executable, "-c", _LONG_CHILD, str(T), str(C), str(Path(__file__).parent)],
                              capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"T": T, "error": f"timed out after {timeout} s"}
    if proc.returncode != 0:
        return {"T": T, "error": (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--T", type=int, default=2600)
    ap.add_argument("--long", default=None,
                    help="comma-separated long-video sizes to measure instead (e.g. 10000,100000,1000000)")
    args = ap.parse_args()
    if args.long:
        for T in (int(x) for x in args.long.split(",")):
            print(json.dumps(long_video(T)), flush=True)
        return
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
