"""Progress on the terminal: plain count lines in a log (at most one per interval, always the last
one), and the relay that shows a notebook kernel's runner lines on reproduce's own log."""

from __future__ import annotations

import time

from himnet_lib.engine import progress


def test_plain_lines_are_rate_limited_and_the_last_one_is_always_shown(monkeypatch):
    lines: list[str] = []
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 3600.0)
    p = progress.Progress(3, "runs", lines.append)
    p.update(0, 2, 1, 0)   # the first: shown (no line for an hour before it)
    p.update(1, 2, 0, 0)   # within the interval: not shown
    p.update(1, 2, 0, 0)   # unchanged: never shown
    p.update(2, 0, 0, 1)   # every run ended: shown
    p.close()
    assert len(lines) == 2
    assert lines[-1].startswith("runs: 2 finished, 0 running, 0 pending, 1 failed of 3")
    assert not any("1 finished" in ln for ln in lines)


def test_relay_shows_another_process_lines_with_a_prefix(tmp_path, monkeypatch):
    path = tmp_path / "relay.log"
    path.touch()
    shown: list[str] = []
    relay = progress.Relay(path, "[02] ", shown.append)
    monkeypatch.setenv(progress.RELAY_ENV, str(path))
    progress.stderr_log("3 distinct runs, 0 already finished, 3 to train")
    with open(path, "a") as f:
        f.write("a partial li")  # no newline yet: not shown until complete
    time.sleep(1.2)
    assert shown == ["[02] 3 distinct runs, 0 already finished, 3 to train"]
    with open(path, "a") as f:
        f.write("ne\n")
    relay.close()
    assert shown[-1] == "[02] a partial line" and not path.exists()
