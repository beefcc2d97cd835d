"""Seconds per training iteration of the real trainer loop (sampling + forward + losses + backward
+ Adam) for a profile on its synthetic benchmark, in float32 and bf16 autocast.

    python timing/bench_train.py                    # demo profile, 1 and 2 threads
    python timing/bench_train.py --profile smoke

The paper-scale step (B=10, T=560, 2048-d) is timed by timing/bench_model_step.py.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch

from himnet_lib.config.profiles import build_config
from himnet_lib.config.run import resolve_config
from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.sampling import CoActionSampler, make_batch
from himnet_lib.datasets.synthetic.writer import make_synthetic
from himnet_lib.engine.train import make_optimizer
from himnet_lib.modeling.builder import build_variant
from himnet_lib.utils.device import autocast as _autocast
from himnet_lib.utils.device import native_bf16
from himnet_lib.utils.seeding import seed_everything


def time_iterations(ds, cfg, amp: str, n: int, warmup: int = 5) -> list[float]:
    rng = seed_everything(0)
    cfg = resolve_config(cfg, feature_dim=ds.feature_dim, num_classes=ds.num_classes)
    model, compose = build_variant(cfg)
    opt = make_optimizer(model, cfg.train)
    videos = ds.train_videos()
    sampler = CoActionSampler(np.stack([v.labels for v in videos]), cfg.train.batch_size, cfg.train.n_pairs, rng)
    dev = torch.device("cpu")
    times = []
    for i in range(warmup + n):
        t0 = time.perf_counter()
        x, y = make_batch(videos, sampler.sample(), cfg.train.seq_len, rng)
        with _autocast(dev, amp):
            out = model(torch.from_numpy(x))
        total, _ = compose(out, torch.from_numpy(y), cfg.loss)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="demo")
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = make_synthetic(args.profile if args.profile in ("smoke", "demo") else "demo", seed=0, out=f"{tmp}/d")
        ds = load_dataset(root)
        cfg = build_config(args.profile)
        print(f"profile {args.profile}: B={cfg.train.batch_size}, T={cfg.train.seq_len}, D={ds.feature_dim}, "
              f"C={ds.num_classes}, {cfg.train.iterations} iterations per run")
        for threads in args.threads:
            torch.set_num_threads(threads)
            # bf16 only where native (elsewhere the fallback kernel is several times slower)
            for amp in ("none", "bf16") if native_bf16(torch.device("cpu")) else ("none",):
                t = statistics.median(time_iterations(ds, build_config(args.profile), amp, args.iterations))
                print(f"  threads={threads} amp={amp:5s}: {1000 * t:7.1f} ms/iteration "
                      f"-> {t * cfg.train.iterations:6.1f} s per run (training only)")


if __name__ == "__main__":
    main()
