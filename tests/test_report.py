"""The README's generated blocks: the ``make bench`` table from ``results/bench/*.json``."""

import json

from himnet_lib import report
from himnet_lib.paths import PROJECT_ROOT


def test_bench_block_puts_reference_and_fast_side_by_side(tmp_path):
    res = {"cpu_model": "Test CPU", "cores": 2, "torch": "2.13.0", "date": "2026-11-28",
           "demo_step_cpu_s": {"reference": 0.060, "fast_fp32": 0.030, "fast": 0.020},
           "paper_step_s": {"reference_fp32": 16.0, "fast": 4.0},
           "matmul_peak_gflops": {"fp32": 60.0, "bf16": 400.0},
           "paper_step_achieved_gflops": 200.0, "paper_fraction_of_bf16_peak": 0.5,
           "run": {"per_iteration_s": 0.028, "fixed_s": 4.5}, "make_demo_s": 1500}
    (tmp_path / "cpu.json").write_text(json.dumps(res))
    (tmp_path / "other.json").write_text(json.dumps({"unrelated": 1}))  # not a bench_all file: ignored
    block = report.bench_block(tmp_path)
    assert block.startswith("**Test CPU, 2 cores, torch 2.13.0**") and block.count("| what |") == 1
    assert "| demo step, 1 thread (CPU time): both in float32 | 60.0 ms | 30.0 ms | 2.00x |" in block
    assert "fast = demo default (bf16) | 60.0 ms | 20.0 ms | 3.00x |" in block
    assert "| paper step, ? threads (fast = bf16, the thumos14 profile) | 16 s | 4 s | 4.00x |" in block
    assert "200 GFLOP/s / 400 GFLOP/s | 0.5 |" in block
    assert "28.0 ms / 4.5 s" in block and "25.0 min" in block
    assert "Table 3 trained" not in block
    (tmp_path / "table3_fp32_vs_fast.csv").write_text("Exp,metric,z\nExp 1,average_mAP,0.5\nExp 1,snippet_acc,-2.5\n")
    block = report.bench_block(tmp_path)
    assert "2 row x metric pairs, largest |z| = 2.50, 1 at 2 standard errors or more" in block


def test_bench_block_of_a_cpu_without_native_bf16_names_float32(tmp_path):
    """Where the profiles' train.amp=auto means float32, the rows say so and the fraction is of
    the float32 peak."""
    res = {"cpu_model": "AVX2 CPU", "cores": 2, "torch": "2.13.0", "fast_amp": "fp32",
           "demo_step_cpu_s": {"reference": 0.060, "fast_fp32": 0.040, "fast": 0.040},
           "paper_step_s": {"reference_fp32": 12.0, "fast": 8.0},
           "matmul_peak_gflops": {"fp32": 120.0, "bf16": 0.3}, "paper_step_achieved_gflops": 60.0,
           "paper_fraction_of_peak": {"dtype": "fp32", "value": 0.5}, "paper_fraction_of_bf16_peak": None}
    (tmp_path / "amd.json").write_text(json.dumps(res))
    block = report.bench_block(tmp_path)
    assert "fast = demo default (fp32) | 60.0 ms | 40.0 ms | 1.50x |" in block
    assert "| paper step, ? threads (fast = fp32, the thumos14 profile) | 12 s | 8 s | 1.50x |" in block
    assert "| paper step achieved / fp32 matmul peak of the run | | 60 GFLOP/s / 120 GFLOP/s | 0.5 |" in block


def test_bench_block_without_results_says_how_to_get_them(tmp_path):
    assert "make bench" in report.bench_block(tmp_path)


def test_readme_bench_block_is_the_generated_one():
    text = (PROJECT_ROOT / "README.md").read_text()
    assert report.replace_block(text, "bench", report.bench_block(PROJECT_ROOT / "results" / "bench")) == text
