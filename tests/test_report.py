"""The README's generated blocks: the ``make bench`` table from the ``readme`` section of
``results/timing/*.json`` (what each row says is the benchmark's: tests/test_bench_readme.py)."""

import json

from himnet_lib.study import report
from himnet_lib.utils.paths import PROJECT_ROOT


def _section(rows, title="Test CPU, 2 cores, torch 2.13.0", date="2026-11-28"):
    return {"title": title, "date": date, "columns": {"what": "what", "ref": "reference", "ratio": "ratio"},
            "rows": rows}


def test_bench_block_renders_the_readme_section_as_given(tmp_path):
    res = {"some_benchmark_key": 1.0,
           "readme": _section([{"what": "a step", "ref": "60.0 ms", "ratio": "2.00x"}, {"what": "a note"}])}
    (tmp_path / "cpu.json").write_text(json.dumps(res))
    (tmp_path / "other.json").write_text(json.dumps({"unrelated": 1}))  # no readme section: ignored
    (tmp_path / "list.json").write_text(json.dumps([1, 2]))
    block = report.bench_block(tmp_path)
    assert block == ("**Test CPU, 2 cores, torch 2.13.0** ([cpu.json](results/timing/cpu.json), 2026-11-28)\n\n"
                     "| what | reference | ratio |\n|---|---|---|\n| a step | 60.0 ms | 2.00x |\n| a note |  |  |\n")
    (tmp_path / "table3_fp32_vs_fast.csv").write_text("Exp,metric,z\nExp 1,average_mAP,0.5\nExp 1,snippet_acc,-2.5\n")
    block = report.bench_block(tmp_path)
    assert "2 row x metric pairs, largest |z| = 2.50, 1 at 2 standard errors or more" in block


def test_bench_block_heading_falls_back_to_the_file_name(tmp_path):
    (tmp_path / "box-2c.json").write_text(json.dumps({"readme": {**_section([]), "title": ""}}))
    assert report.bench_block(tmp_path).startswith("**box-2c** ([box-2c.json]")


def test_bench_block_without_results_says_how_to_get_them(tmp_path):
    assert "make bench" in report.bench_block(tmp_path)


def test_readme_bench_block_is_the_generated_one():
    text = (PROJECT_ROOT / "README.md").read_text()
    assert report.replace_block(text, "bench", report.bench_block(PROJECT_ROOT / "results" / "timing")) == text
