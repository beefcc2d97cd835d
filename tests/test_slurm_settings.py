"""Slurm settings without a cluster: time formats, the cluster file, the named options and
--slurm-set merged into submitit's parameters, the profile's time estimate, and the CLI's refusal
of Slurm options without --executor slurm."""

from __future__ import annotations

import pytest

from himnet_lib import cli
from himnet_lib.engine import slurm
from himnet_lib.utils.errors import HimnetError


@pytest.mark.parametrize("text, minutes", [(90, 90), ("90", 90), ("1:30", 2), ("2:00:00", 120), ("1-2", 1560),
                                           ("1-02:30", 1590), ("0-00:00:30", 1)])
def test_time_formats(text, minutes):
    assert slurm.parse_time(text) == minutes


@pytest.mark.parametrize("bad", ["", "1h", "0", "1:2:3:4", "-5"])
def test_bad_times_are_one_line_errors(bad):
    with pytest.raises(HimnetError, match="slurm time"):
        slurm.parse_time(bad)


def test_cluster_file_set_and_options_merge_in_that_order(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("partition: cpu\ntime: 60\nmem: 4G\nreservation: r1\n")
    t = tmp_path / "c.toml"
    t.write_text('partition = "gpu"\ngpus-per-task = 1\n')
    assert slurm.load_cluster_file(t) == {"partition": "gpu", "gpus_per_task": 1}
    cfg = slurm.settings(y, {"partition": "big", "qos": None}, ["time=2:00:00", "constraint=avx512"])
    assert cfg == {"partition": "big", "time": "2:00:00", "mem": "4G", "reservation": "r1", "constraint": "avx512"}
    params = slurm.executor_parameters(cfg, default_minutes=10, name="himnet-demo", parallelism=4, threads=2)
    assert params["time"] == 120 and params["cpus_per_task"] == 2 and params["partition"] == "big"
    assert params["constraint"] == "avx512" and params["additional_parameters"] == {"reservation": "r1"}
    assert params["job_name"] == "himnet-demo" and params["array_parallelism"] == 4
    assert slurm.executor_parameters({}, default_minutes=10, name="x", parallelism=1, threads=None)["time"] == 10


def test_bad_cluster_files_and_conflicts_are_one_line_errors(tmp_path):
    (tmp_path / "a.yaml").write_text("partition: [a, b]\n")
    (tmp_path / "b.toml").write_text("partition = \n")
    for name in ("a.yaml", "b.toml", "missing.yaml"):
        with pytest.raises(HimnetError, match=name):
            slurm.load_cluster_file(tmp_path / name)
    with pytest.raises(HimnetError, match="key=value"):
        slurm.parse_set(["partition"])
    with pytest.raises(HimnetError, match="differ"):
        slurm.executor_parameters({"cpus_per_task": 4}, default_minutes=10, name="x", parallelism=1, threads=2)


def test_time_estimate_from_the_profile():
    assert slurm.estimate_minutes("smoke", 24) == slurm.TIME_MIN_MINUTES
    # thumos14: (10,000 x 8 s + 120 s) x 1.5 = 120,180 s = 2,003 min
    assert slurm.estimate_minutes("thumos14", 10_000) == 2003


def test_slurm_options_need_the_slurm_executor(capsys):
    assert cli.main(["reproduce", "--profile", "smoke", "--slurm-partition", "cpu"]) == 2
    assert "--slurm-partition need --executor slurm" in capsys.readouterr().err
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["reproduce"].format_help()
    for opt in ("--slurm-partition", "--slurm-time", "--slurm-account", "--slurm-qos", "--slurm-cpus-per-task",
                "--slurm-mem", "--slurm-gpus-per-task", "--slurm-set", "--cluster"):
        assert opt in help_text
