"""Time one full HiM-Net training step at paper scale.

Step = forward + all four losses of Eq. 11 (MIL, CLL, VCL, SCL) + backward + Adam step, at
B=10, T=560, D=2048, C=20 (THUMOS14 settings), in float32 and under bf16 autocast.
Prints the parameter count and the median seconds/step over ``--steps`` steps after ``--warmup``.

    python timing/bench_model_step.py                 # CPU, 2 threads
    python timing/bench_model_step.py --device cuda   # if a GPU is present
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.sections import ModelConfig
from himnet_lib.modeling.himnet import build_model, count_parameters
from himnet_lib.modeling.losses.compose import compose_losses
from himnet_lib.utils.device import native_bf16


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(device: torch.device, precision: str, B: int, T: int, D: int, C: int,
               warmup: int, steps: int, seed: int = 0, impl: str = "fast") -> list[float]:
    torch.manual_seed(seed)
    model = build_model(ModelConfig(feature_dim=D, num_classes=C, impl=impl)).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-5, weight_decay=1e-3)
    cfg = LossConfig()  # mil + cll + vcl + scl, k = floor(T/7)
    x = torch.randn(B, T, D, device=device)
    labels = torch.zeros(B, C, device=device)
    for b in range(B):  # 3 same-class pairs, then singletons, as the co-action sampler builds them
        labels[b, (b // 2) % C if b < 6 else b % C] = 1.0
    times = []
    for i in range(warmup + steps):
        _sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model(x)
            total, _ = compose_losses(out, labels, cfg)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
        if not torch.isfinite(total):
            raise RuntimeError(f"non-finite loss at step {i} ({precision})")
    return times


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (CI box: 2)")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--snippets", type=int, default=560)
    ap.add_argument("--feature-dim", type=int, default=2048)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--precision", choices=["fp32", "bf16", "both", "auto"], default="auto",
                    help="auto: fp32, and bf16 where the device computes it natively (elsewhere a "
                         "paper-scale bf16 step takes most of an hour on CPU)")
    ap.add_argument("--impl", choices=["fast", "reference", "both"], default="both",
                    help="model path (ModelConfig.impl); timing/bench_all.py interleaves them")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n = count_parameters(build_model(ModelConfig(feature_dim=args.feature_dim, num_classes=args.classes)))
    print(f"device={device} threads={torch.get_num_threads()} torch={torch.__version__}")
    print(f"shape B={args.batch} T={args.snippets} D={args.feature_dim} C={args.classes}; "
          f"parameters={n:,} ({n / 1e6:.2f} M)")
    if args.precision == "auto":
        precisions = ["fp32", "bf16"] if native_bf16(device) else ["fp32"]
        if precisions == ["fp32"]:
            print("no native bf16 on this device: bf16 not timed (--precision bf16 to force it)")
    else:
        precisions = ["fp32", "bf16"] if args.precision == "both" else [args.precision]
    impls = ["reference", "fast"] if args.impl == "both" else [args.impl]
    for impl in impls:
        for prec in precisions:
            ts = time_steps(device, prec, args.batch, args.snippets, args.feature_dim, args.classes,
                            args.warmup, args.steps, impl=impl)
            print(f"{impl:9s} {prec}: median {statistics.median(ts):.3f} s/step "
                  f"(steps: {', '.join(f'{t:.3f}' for t in ts)})")


if __name__ == "__main__":
    main()
