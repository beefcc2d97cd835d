"""docs/bad_inputs.md, made from the cases themselves: ``python tests/bad_inputs_doc.py > docs/bad_inputs.md``
(also ``python tests/test_bad_inputs.py``). Every hand-written case of tests/test_bad_inputs.py is run
(in-process, as its test runs it) for its message, the non-root cases of tests/test_unprivileged.py
as the unprivileged user, and the fuzzing's section is built from tests/fuzz_data.py's READERS and
the example counts of the property tests under both profiles. Run it as root (the non-root rows
drop privileges) from the checkout, with the CI profile (the default)."""

from __future__ import annotations

import contextlib
import importlib
import io
import tempfile
from pathlib import Path

from hypothesis import settings

FUZZ_MODULES = ("test_fuzz_readers", "test_fuzz_cli")
DISK_FULL = ("| disk full while writing a record (`fsync` fails with ENOSPC; test: "
             "`test_disk_full_is_one_line_naming_the_file`) | `himnet train: error: <tmp>/r/params.json: No space left "
             "on device` (no temporary file left; records written before stay) |")


def property_tests() -> list[tuple[str, str, int]]:
    """(module, test, max_examples under the loaded profile) of every fuzz property test."""
    out = []
    for name in FUZZ_MODULES:
        mod = importlib.import_module(name)
        for attr in sorted(vars(mod)):
            fn = getattr(mod, attr)
            if attr.startswith("test_") and hasattr(fn, "hypothesis"):
                own = getattr(fn, "_hypothesis_internal_use_settings", None)  # the test's @settings, if any
                out.append((name, attr, (own or settings.default).max_examples))
    return out


def examples_per_run(profile_examples: int) -> tuple[list[tuple[str, str, int]], int]:
    """The property tests with their examples scaled to a profile of ``profile_examples``, and the sum."""
    base = settings.default.max_examples
    rows = [(m, t, max(1, round(n * profile_examples / base))) for m, t, n in property_tests()]
    return rows, sum(n for _, _, n in rows)


def _case_rows(cases, patches, main, train) -> tuple[list[str], list[str]]:
    import pytest

    from himnet_lib.datasets.synthetic.writer import make_synthetic
    rows = ["| input | message (stderr, exit status 2) |", "|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        import test_bad_inputs
        base = Path(d)
        smoke = make_synthetic("smoke", seed=0, out=base / "smoke")
        run = base / "run"
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            main([*train, "--stop-after", "4", "--data", str(smoke), "--out", str(run)])
            main([*train, "--data", str(smoke), "--out", str(base / "finished")])
        test_bad_inputs._FINISHED[:] = [base / "finished"]
        for i, (case_id, what, setup, _) in enumerate(cases):
            tmp = base / f"c{i}"
            tmp.mkdir()
            err = io.StringIO()
            with pytest.MonkeyPatch.context() as mp:
                if case_id in patches:
                    patches[case_id](mp, tmp)
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    main([str(a) for a in setup(tmp, smoke, run)])
            msg = err.getvalue().strip().replace(d, "<tmp>").replace("|", "\\|")
            rows.append(f"| {what} | `{msg}` |")
        unprivileged = _unprivileged_rows(smoke, run)
    return rows, unprivileged


def _unprivileged_rows(smoke: Path, run: Path) -> list[str]:
    import test_unprivileged
    rows = test_unprivileged.run_cases(smoke, run, check=False)
    who = rows.pop()[1]
    return [f"Run as {who} (tests/test_unprivileged.py drops root's privileges with setpriv):", "",
            "| input | message (stderr, exit status 2) |", "|---|---|",
            *[f"| {what} | `{line}` |" for what, line in rows]]


def document() -> str:
    import conftest
    import test_bad_inputs as bad
    from fuzz_data import READERS
    from fuzz_inputs import CLUSTER_JUNK

    from himnet_lib.cli import main

    rows, unprivileged = _case_rows(bad.CASES, bad.PATCHES, main, bad.TRAIN)
    ci_rows, ci_total = examples_per_run(conftest.CI_EXAMPLES)
    fuzz_rows, fuzz_total = examples_per_run(conftest.FUZZ_EXAMPLES)
    per_test = "\n".join(f"| `{m}.py::{t}` | {n} | {f} |" for (m, t, n), (_, _, f) in zip(ci_rows, fuzz_rows))
    readers = []
    for reader, (valid, breaks, tests) in READERS.items():
        readers.append(f"* **{reader}**: valid inputs of {valid}; broken one way at a time: "
                       + "; ".join(b.name + (" (may still be valid)" if b.may_pass else "")
                                   + (" (read only by the readers that load features)" if b.lazy else "")
                                   for b in breaks) + f". Tests: `{tests}`.")
    found = "\n".join(f"| `{cid}` | {how} |" for cid, how in bad.FOUND.items())
    return f"""# Bad inputs and the messages they get

Every bad input tried against the `himnet` command line, with the message it prints: one line on
stderr, no traceback, exit status 2 ({len(bad.CASES)} hand-written cases plus disk full). `tests/test_bad_inputs.py`
runs each row (in-process, `himnet_lib.cli.main`); `python tests/bad_inputs_doc.py > docs/bad_inputs.md`
writes this file from the same cases (`<tmp>` is the case's temporary folder). Checked there too: a
planted checkpoint's code never runs, and the user's files in a refused `--out` are untouched.

{chr(10).join(rows)}
{DISK_FULL}

`himnet check-data` reports (on stdout, exit status 2, every problem listed, each naming the file,
the video and the field, and for features the snippets and the feature) what training would reject:
duplicate video names, non-finite or too wide features, non-finite segment bounds and durations,
and an empty train or test subset (`test_check_data_fails_on_what_training_rejects`,
`tests/test_nonfinite.py`).

## As a user without root's privileges

A read-only results folder, an unreadable data folder or file and an unwritable `--out` are
checked before any work starts (`himnet_lib/utils/access.py`), and nothing is created.

{chr(10).join(unprivileged)}

## Divergence

A loss that goes non-finite stops training with the one line of the case `diverged` above: the run,
the iteration and the first non-finite term in Eq. 11's order (a weight gone non-finite after a
finite loss is caught before it is checkpointed). The last good checkpoint is kept, no
`metrics.json`, `predictions.json` or `outputs.npz` is written, and `himnet reproduce` reports the
run among its failed ones after training the others (`tests/test_divergence.py`).

## What the fuzzing covers

Hypothesis property tests (`tests/test_fuzz_readers.py`: the readers as the library calls them;
`tests/test_fuzz_cli.py`: the same inputs through the command line). The property: the call
succeeds, or exits with status 2 and one line on stderr naming the file and the field (or the
setting); never a traceback or a warning; the folder of the inputs holds the same bytes afterwards
(no temporary file, partial output or run folder). Valid inputs round-trip: a generated ground
truth (JSON, bundle or per-video root) scored against itself has mAP 1, a generated bundle or
per-video root loads with the shapes it was made with.

{chr(10).join(readers)}
* **run records**: `params.json` and `metrics.json` of a finished run with one value replaced (any
  JSON value, NaN, Infinity), removed, or the bytes damaged, under `himnet train --out RUN`;
  `history.csv` with junk cells or damaged bytes and `predictions.json` with junk, read by `RunDir`.
* **`--set key=value`** over every setting of `RunConfig` (qualified and bare) and unknown keys, with
  values of every kind: numbers of every size (400 and 5,000 digits), `.nan`, `.inf`, names, lists,
  3,000 nested brackets, YAML dates and tags, empty.
* **`--cluster` files** (YAML, TOML) of valid settings, with one of {", ".join(f"`{k}`" for k in sorted(CLUSTER_JUNK))}
  given a value it cannot take, or the bytes damaged, under `himnet reproduce --executor slurm` with
  Slurm's commands stood in (`tests/fake_slurm.py`).

Examples per run: the CI profile (`make test`, the default; fixed examples, the same every run, no
example database) runs **{ci_total}** in all; `make fuzz` (profile `fuzz`, random, failures kept in
`.cache/hypothesis`) runs **{fuzz_total}**. The profiles are registered in `tests/conftest.py` and
chosen by `$HIMNET_HYPOTHESIS_PROFILE`.

| property test | CI | make fuzz |
|---|---|---|
{per_test}

## Failures the fuzzing found

Each is fixed and kept as a plain case of the table above (its id in `tests/test_bad_inputs.py`).
"Fuzz, CI profile" failures were found by the first run of the CI profile, "long profile" ones only
by `make fuzz`; "review" ones while writing the strategies and reading the readers they drive.

| case | what happened before |
|---|---|
{found}

## Checkpoints

Checkpoints (`tests/test_checkpoint_safety.py`): they hold tensors and plain values only (format 2)
and are read with `torch.load(weights_only=True)`. A format-1 checkpoint of an earlier himnet is
refused like a planted one (it pickled a numpy array, which only the code-running unpickler
reads); `--force` retrains the run. A checkpoint of another run is refused naming both run ids.
"""


if __name__ == "__main__":  # pragma: no cover
    print(document(), end="")
