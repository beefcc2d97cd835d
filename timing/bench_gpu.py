"""Paper-scale HiM-Net training steps on a CUDA GPU: fp32, TF32 and bf16 autocast, reference and
fast model paths, eager and torch.compile; projected time of a 10,000-iteration THUMOS14 run.

    python timing/bench_gpu.py                 # writes results/timing/gpu-<name>.json
    python timing/bench_gpu.py --no-compile    # skip the torch.compile variants

Step = forward + all four losses (compose_losses) + backward + Adam step at B=10, T=560, D=2048,
C=20 (the paper's THUMOS14 settings), timed with CUDA synchronisation, median of ``--steps`` after
``--warmup``. On a machine without a CUDA GPU it prints a message and exits with status 0.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / "timing"


def _labels(B: int, C: int, device) -> torch.Tensor:
    y = torch.zeros(B, C, device=device)
    for b in range(B):
        y[b, (b // 2) % C if b < 6 else b % C] = 1.0
    return y


def time_variant(impl: str, precision: str, compile_: bool, args, device) -> dict:
    from himnet_lib.config.loss import LossConfig
    from himnet_lib.config.sections import ModelConfig
    from himnet_lib.modeling.himnet import build_model
    from himnet_lib.modeling.losses.compose import compose_losses

    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    torch.manual_seed(0)
    B, T, D, C = args.batch, args.snippets, args.feature_dim, 20
    model = build_model(ModelConfig(feature_dim=D, num_classes=C, impl=impl)).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-5, weight_decay=1e-3)
    lcfg = LossConfig()
    x = torch.randn(B, T, D, device=device)
    y = _labels(B, C, device)

    def loss_fn(x, y):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model(x)
        total, _ = compose_losses(out, y, lcfg)
        return total

    fn = torch.compile(loss_fn) if compile_ else loss_fn
    t0 = time.perf_counter()
    times = []
    for i in range(args.warmup + args.steps):
        torch.cuda.synchronize(device)
        s = time.perf_counter()
        total = fn(x, y)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        torch.cuda.synchronize(device)
        if i == 0:
            first = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(time.perf_counter() - s)
    if not torch.isfinite(total):
        raise RuntimeError(f"non-finite loss ({impl}, {precision}, compile={compile_})")
    med = statistics.median(times)
    return {"impl": impl, "precision": precision, "compile": compile_, "step_s": med,
            "steps_per_s": 1.0 / med, "first_step_s": first,
            "projected_10k_iterations_min": med * 10_000 / 60,
            "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2 ** 30}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--snippets", type=int, default=560)
    ap.add_argument("--feature-dim", type=int, default=2048)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU visible to torch "
              f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}); nothing to measure.")
        return 0
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(device)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    print(f"device: {name}; torch {torch.__version__}, CUDA {torch.version.cuda}")
    rows = []
    for compile_ in ([False] if args.no_compile else [False, True]):
        for impl in ("reference", "fast"):
            for precision in ("fp32", "tf32", "bf16"):
                try:
                    r = time_variant(impl, precision, compile_, args, device)
                except Exception as e:  # a failing variant (e.g. compile without a toolchain) is reported
                    r = {"impl": impl, "precision": precision, "compile": compile_, "error": repr(e)[:500]}
                rows.append(r)
                if "error" in r:
                    print(f"{impl:9s} {precision:4s} compile={compile_!s:5s}: FAILED {r['error'][:120]}")
                else:
                    print(f"{impl:9s} {precision:4s} compile={compile_!s:5s}: {r['step_s'] * 1000:7.1f} ms/step "
                          f"{r['steps_per_s']:6.2f} steps/s  "
                          f"10k iterations: {r['projected_10k_iterations_min']:6.1f} min "
                          f"(first step {r['first_step_s']:.1f} s, peak {r['peak_memory_gib']:.1f} GiB)")
                torch.cuda.reset_peak_memory_stats(device)
    res = {"device": name, "torch": torch.__version__, "cuda": torch.version.cuda,
           "shape": {"B": args.batch, "T": args.snippets, "D": args.feature_dim, "C": 20},
           "date": time.strftime("%Y-%m-%d %H:%M:%S"), "variants": rows}
    out = Path(args.out) if args.out else RESULTS / f"gpu-{slug}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
