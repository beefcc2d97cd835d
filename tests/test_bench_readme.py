"""``timing/bench_all.py``'s README rows (``suite.readme``): what each row says, read from
a result's numbers; the committed results hold the rows their numbers give; the driver runs as a
script and refreshes stored results."""

import json
import os
import shutil
import subprocess
import sys
import types

import pytest

from himnet_lib.study import report
from himnet_lib.utils.paths import PROJECT_ROOT

BENCH = PROJECT_ROOT / "timing"
sys.path.insert(0, str(BENCH))

import bench_all  # noqa: E402
from suite.demo import DEMO_VARIANTS, table_rows  # noqa: E402
from suite.part import fmt, readme_row, readme_rows_of  # noqa: E402
from suite.parts import PARTS  # noqa: E402
from suite.readme import readme_section  # noqa: E402
from suite.steps import Variant  # noqa: E402
from suite.terminal import table  # noqa: E402


def _block(tmp_path, res, name="cpu.json"):
    (tmp_path / name).write_text(json.dumps({**res, "readme": readme_section(res)}))
    return report.bench_block(tmp_path)


def test_rows_put_reference_and_fast_side_by_side(tmp_path):
    res = {"cpu_model": "Test CPU", "cores": 2, "torch": "2.13.0", "date": "2026-11-28",
           "demo_step_cpu_s": {"reference": 0.060, "fast_fp32": 0.030, "fast": 0.020},
           "paper_step_s": {"reference_fp32": 16.0, "fast": 4.0},
           "matmul_peak_gflops": {"fp32": 60.0, "bf16": 400.0},
           "paper_step_achieved_gflops": 200.0, "paper_fraction_of_bf16_peak": 0.5,
           "run": {"per_iteration_s": 0.028, "fixed_s": 4.5}, "make_demo_s": 1500}
    block = _block(tmp_path, res)
    assert block.startswith("**Test CPU, 2 cores, torch 2.13.0**") and block.count("| what |") == 1
    assert "| what | reference | fast | fast / reference |" in block
    assert "| demo step, 1 thread (CPU time): both in float32 | 60.0 ms | 30.0 ms | 2.00x |" in block
    assert "fast = demo default (bf16) | 60.0 ms | 20.0 ms | 3.00x |" in block
    assert "| paper step, ? threads (fast = bf16, the thumos14 profile) | 16 s | 4 s | 4.00x |" in block
    assert "200 GFLOP/s / 400 GFLOP/s | 0.5 |" in block
    assert "28.0 ms / 4.5 s" in block and "25.0 min" in block
    assert "Table 3 trained" not in block


def test_rows_of_a_cpu_without_native_bf16_name_float32(tmp_path):
    """Where the profiles' train.amp=auto means float32, the rows say so and the fraction is of
    the float32 peak."""
    res = {"cpu_model": "AVX2 CPU", "cores": 2, "torch": "2.13.0", "fast_amp": "fp32",
           "demo_step_cpu_s": {"reference": 0.060, "fast_fp32": 0.040, "fast": 0.040},
           "paper_step_s": {"reference_fp32": 12.0, "fast": 8.0},
           "matmul_peak_gflops": {"fp32": 120.0, "bf16": 0.3}, "paper_step_achieved_gflops": 60.0,
           "paper_fraction_of_peak": {"dtype": "fp32", "value": 0.5}, "paper_fraction_of_bf16_peak": None}
    block = _block(tmp_path, res)
    assert "fast = demo default (fp32) | 60.0 ms | 40.0 ms | 1.50x |" in block
    assert "| paper step, ? threads (fast = fp32, the thumos14 profile) | 12 s | 8 s | 1.50x |" in block
    assert "| paper step achieved / fp32 matmul peak of the run |  | 60 GFLOP/s / 120 GFLOP/s | 0.5 |" in block


def test_a_part_that_did_not_run_has_no_rows_and_carried_parts_are_named():
    sec = readme_section({"cpu_model": "X", "run": {"per_iteration_s": 0.02, "fixed_s": 2.0},
                          "skipped_parts_from": {"date": "2026-11-27", "parts": ["paper"]}})
    assert [r["what"] for r in sec["rows"]] == ["one demo run: per iteration / fixed (evaluation, records)",
                                                "(parts paper carried over from 2026-11-27)"]


def test_every_part_provides_its_rows():
    for name, part in PARTS.items():
        assert part.NAME == name
        assert callable(part.measure) and part.table_rows({}) is not None and readme_rows_of(part, {}) == []


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "results" / "timing").glob("*.json")), ids=lambda p: p.name)
def test_committed_results_hold_the_rows_their_numbers_give(path):
    res = json.loads(path.read_text())
    assert res.pop("readme") == readme_section(res)


def test_refresh_readme_rewrites_only_the_readme_section(tmp_path):
    src = PROJECT_ROOT / "results" / "timing"
    for p in src.glob("*.json"):
        shutil.copy(p, tmp_path / p.name)
    for p in tmp_path.glob("*.json"):  # as written before the readme section
        r = json.loads(p.read_text())
        r.pop("readme", None)
        p.write_text(json.dumps(r, indent=1) + "\n")
    (tmp_path / "other.json").write_text('{"unrelated": 1}\n')
    bench_all.main(["--refresh-readme", *map(str, sorted(tmp_path.glob("*.json")))])
    for p in src.glob("*.json"):
        assert (tmp_path / p.name).read_text() == p.read_text()
    assert (tmp_path / "other.json").read_text() == '{"unrelated": 1}\n'


def test_carried_over_keeps_the_skipped_parts_keys_only():
    old = {"date": "d", "note": "n", "incomplete": True, "readme": {}, "a": 1, "b": 2, "c": 3,
           "part_keys": {"demo": ["a"], "paper": ["b"]}}
    got = bench_all.carried_over(old, ["demo"])
    assert got == {"a": 1, "part_keys": {"demo": ["a"]},
                   "skipped_parts_from": {"date": "d", "parts": ["demo"], "note": "n"}}


def test_driver_runs_as_a_script():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, str(BENCH / "bench_all.py"), "--help"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "--skip" in out.stdout and "--refresh-readme" in out.stdout and "numerics" in out.stdout


def test_a_new_part_reaches_the_readme_through_the_package_alone(tmp_path, monkeypatch):
    """docs/extending.md's "add a bench part": one module and its entry in PARTS; the driver runs it
    (the real parts skipped), and its rows reach the terminal table and the README block."""
    toy = types.ModuleType("toy")
    toy.NAME = "toy"
    toy.measure = lambda ctx: {"toy_s": 0.5, "toy_out": str(ctx.out_dir)}
    toy.table_rows = lambda res: [("toy step", res.get("toy_s"), "s")]
    toy.readme_rows = lambda res: [readme_row("toy step", "", fmt(res["toy_s"], "s"))] if "toy_s" in res else []
    real = list(PARTS)
    monkeypatch.setitem(PARTS, "toy", toy)
    out = tmp_path / "box.json"
    res = bench_all.main(["--quick", "--skip", *real, "--out", str(out)])
    assert res["toy_out"] == str(tmp_path) and res["part_keys"] == {"toy": ["toy_out", "toy_s"]}
    assert "toy step" in table(res)
    assert "| toy step |  | 500.0 ms |  |" in report.bench_block(tmp_path)


def test_a_new_variant_is_listed_from_its_entry_alone(monkeypatch):
    monkeypatch.setitem(DEMO_VARIANTS, "toy", Variant("fast", False, False, False, "toy ({fast_amp})"))
    rows = dict((name, v) for name, v, _ in table_rows({"fast_amp": "fp32", "demo_step_s": {"toy": 0.1}}))
    assert rows["demo step, toy (fp32)"] == 0.1
