"""Hypothesis strategies for the fuzz tests (tests/test_fuzz_readers.py, tests/test_fuzz_cli.py): valid
inputs and *breaks* that spoil one field of a valid input at a time, for the ActivityNet JSON (ground
truth, predictions), the run records, ``--set`` values and cluster files; the dataset roots' are in
tests/fuzz_data.py.

A :class:`Break` changes a valid input in place (a decoded JSON object, or the files of a dataset
root) and returns the texts that the error must hold: the file's name and the field, the video or
the setting. Its ``draw`` argument is Hypothesis' ``data.draw``, so its own choices (which video,
which value) are part of the example and shrink with it. The readers fuzzed, and what breaks each,
are tests/fuzz_data.py's ``READERS`` (docs/bad_inputs.md lists them).

Also here: :func:`snapshot` of a folder (every file's bytes), which the properties compare before
and after a call (nothing changed, nothing left behind), and :func:`call_cli`, which runs
``himnet_lib.cli.main`` in this process and returns its exit status, stdout, stderr and the warnings
raised (each would have been printed on stderr)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import string
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml
from hypothesis import settings
from hypothesis import strategies as st


def examples(share: float = 1.0) -> int:
    """``share`` of the loaded profile's max_examples (tests/conftest.py: ci or fuzz)."""
    return max(1, round(settings.default.max_examples * share))


# --- generic values -----------------------------------------------------------------------------

NAME = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=8)
SCALAR_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
JUNK = st.one_of(SCALAR_JUNK, st.lists(SCALAR_JUNK, max_size=3),
                 st.dictionaries(st.text(max_size=4), SCALAR_JUNK, max_size=2))
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def junk_except(*types: type) -> st.SearchStrategy:
    """A JSON value of none of ``types`` (a bool is never an int or a float here)."""
    def ok(v: Any) -> bool:
        if isinstance(v, bool):
            return bool not in types
        return not isinstance(v, types)
    return JUNK.filter(ok)


BAD_SEGMENTS = st.one_of(
    st.tuples(NON_FINITE, st.floats(0, 10)).map(list),                  # a non-finite start
    st.tuples(st.floats(0, 10), NON_FINITE).map(list),                  # a non-finite end
    st.tuples(st.floats(5.5, 10), st.floats(0, 5)).map(list),           # end before start
    st.lists(st.floats(0, 10), min_size=3, max_size=4),                 # not a pair
    st.lists(st.floats(0, 10), max_size=1),
    st.tuples(st.text(alphabet="abcxyz", min_size=1, max_size=3), st.floats(0, 10)).map(list),  # not numbers
    st.one_of(st.none(), st.text(max_size=4), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)),
)


@dataclass(frozen=True)
class Break:
    """One way of spoiling a valid input: ``apply(target, draw) -> texts the error must hold``.
    ``may_pass``: the spoilt input may still be valid (damaged bytes can give another valid file);
    ``lazy``: a reader that does not read the spoilt part (features of the per-video layout, read on
    access) may pass it, the reader that reads it may not."""

    name: str
    apply: Callable[..., tuple[str, ...]]
    may_pass: bool = False
    lazy: bool = False

    def __repr__(self) -> str:  # Hypothesis prints the drawn break by this
        return f"Break({self.name!r})"


def registry() -> tuple[list[Break], Callable]:
    """A list of breaks and the decorator that adds a function to it, named by its docstring:
    ``@add`` or ``@add(may_pass=True)`` / ``@add(lazy=True)``."""
    breaks: list[Break] = []

    def add(fn: Callable | None = None, **flags: bool) -> Callable:
        def register(f: Callable) -> Callable:
            breaks.append(Break((f.__doc__ or f.__name__).strip(), f, **flags))
            return f
        return register(fn) if fn is not None else register
    return breaks, add


@st.composite
def damaged_bytes(draw, text: bytes) -> bytes:
    """``text`` cut short, or with bytes spliced in (not UTF-8, a stray bracket, a NUL)."""
    at = draw(st.integers(0, max(0, len(text) - 1)))
    if draw(st.booleans()):
        return text[:at]
    junk = draw(st.sampled_from([b"\xff\xfe", b"}", b"[", b",,", b"\x00", b"NaN", b'"', b"\n- x\n"]))
    return text[:at] + junk + text[at:]


def dump_json(obj: Any) -> bytes:
    """JSON as a careless writer gives it: NaN and Infinity as bare words."""
    return json.dumps(obj, allow_nan=True).encode()


def pick(draw, items: Sequence[Any]) -> Any:
    return items[draw(st.integers(0, len(items) - 1))]


# --- ActivityNet ground truth -------------------------------------------------------------------

SUBSET = "test"


@st.composite
def anet_ground_truth(draw) -> dict:
    """An ActivityNet ground-truth object; its subset ``test`` has at least one annotation (its
    first video), the other videos are in ``test`` or ``validation``. Boundaries are numbers or
    strings (the official loader float()s both)."""
    labels = draw(st.lists(NAME, min_size=1, max_size=4, unique=True))
    videos = draw(st.lists(NAME, min_size=1, max_size=5, unique=True))
    db: dict[str, Any] = {}
    for i, v in enumerate(videos):
        anns = []
        for _ in range(draw(st.integers(1 if i == 0 else 0, 4))):
            s = draw(st.floats(0, 500, allow_nan=False, width=32))
            e = s + draw(st.floats(0, 100, allow_nan=False, width=32))
            seg = [repr(s), repr(e)] if draw(st.booleans()) else [s, e]
            anns.append({"segment": seg, "label": draw(st.sampled_from(labels))})
        db[v] = {"subset": SUBSET if i == 0 else draw(st.sampled_from([SUBSET, "validation"])),
                 "duration": draw(st.floats(1, 1000)), "annotations": anns}
    return {"version": "VERSION 1.3", "database": db}


def predictions_of(gt: dict, scores: Sequence[float] = (1.0,)) -> dict:
    """A result object with one prediction per annotation of the ``test`` subset (its own segment and
    label): scored against ``gt`` it has mAP 1 at every threshold, whatever the scores."""
    results: dict[str, list] = {}
    k = 0
    for v, entry in gt["database"].items():
        if entry["subset"] != SUBSET:
            continue
        results[v] = []
        for a in entry["annotations"]:
            results[v].append({"label": a["label"], "segment": [float(a["segment"][0]), float(a["segment"][1])],
                               "score": scores[k % len(scores)]})
            k += 1
    return {"version": "VERSION 1.3", "external_data": {"used": False}, "results": results}


def _test_video(gt: dict, draw) -> tuple[str, dict]:
    return pick(draw, [(v, e) for v, e in gt["database"].items() if e["subset"] == SUBSET])


def _annotation(gt: dict, draw) -> tuple[str, int, dict]:
    v, e = next((v, e) for v, e in gt["database"].items() if e["subset"] == SUBSET)  # it has annotations
    j = draw(st.integers(0, len(e["annotations"]) - 1))
    return v, j, e


GT_BREAKS, _gt = registry()


@_gt
def _no_database(gt, draw):
    """no 'database'"""
    del gt["database"]
    return ("database",)


@_gt
def _database_not_object(gt, draw):
    """'database' not an object"""
    gt["database"] = draw(junk_except(dict))
    return ("database",)


@_gt
def _entry_not_object(gt, draw):
    """a video entry not an object"""
    v, _ = _test_video(gt, draw)
    gt["database"][v] = draw(junk_except(dict))
    return (f"video {v}", "subset")


@_gt
def _no_subset(gt, draw):
    """a video without 'subset'"""
    v, e = _test_video(gt, draw)
    del e["subset"]
    return (f"video {v}", "subset")


@_gt
def _subset_not_string(gt, draw):
    """'subset' not a string"""
    v, e = _test_video(gt, draw)
    e["subset"] = draw(junk_except(str))
    return (f"video {v}", "subset")


@_gt
def _annotations_not_list(gt, draw):
    """'annotations' not a list"""
    v, _, e = _annotation(gt, draw)
    e["annotations"] = draw(junk_except(list))
    return (f"video {v}", "annotations")


@_gt
def _annotation_not_object(gt, draw):
    """an annotation not an object"""
    v, j, e = _annotation(gt, draw)
    e["annotations"][j] = draw(junk_except(dict))
    return (f"video {v}", f"annotations[{j}]")


@_gt
def _annotation_lacks_key(gt, draw):
    """an annotation without 'label' or 'segment'"""
    v, j, e = _annotation(gt, draw)
    del e["annotations"][j][draw(st.sampled_from(["label", "segment"]))]
    return (f"video {v}", f"annotations[{j}]")


@_gt
def _bad_segment(gt, draw):
    """a segment not two finite numbers in order"""
    v, j, e = _annotation(gt, draw)
    e["annotations"][j]["segment"] = draw(BAD_SEGMENTS)
    return (f"video {v}", f"annotations[{j}].segment")


@_gt
def _label_not_string(gt, draw):
    """a label not a string"""
    v, j, e = _annotation(gt, draw)
    e["annotations"][j]["label"] = draw(junk_except(str))
    return (f"video {v}", f"annotations[{j}].label")


# --- ActivityNet predictions --------------------------------------------------------------------

def _prediction(preds: dict, draw) -> tuple[str, int, list]:
    v = pick(draw, [v for v, p in preds["results"].items() if p])
    return v, draw(st.integers(0, len(preds["results"][v]) - 1)), preds["results"][v]


PRED_BREAKS, _pred = registry()


@_pred
def _no_required_key(p, draw):
    """no 'results', 'version' or 'external_data'"""
    key = draw(st.sampled_from(["results", "version", "external_data"]))
    del p[key]
    return (key,)


@_pred
def _results_not_object(p, draw):
    """'results' not an object"""
    p["results"] = draw(junk_except(dict))
    return ("results",)


@_pred
def _video_not_list(p, draw):
    """a video's predictions not a list"""
    v, _, _ = _prediction(p, draw)
    p["results"][v] = draw(junk_except(list))
    return (f"video {v}", "results")


@_pred
def _prediction_not_object(p, draw):
    """a prediction not an object"""
    v, j, xs = _prediction(p, draw)
    xs[j] = draw(junk_except(dict))
    return (f"video {v}", f"results[{j}]")


@_pred
def _prediction_lacks_key(p, draw):
    """a prediction without 'label', 'segment' or 'score'"""
    v, j, xs = _prediction(p, draw)
    del xs[j][draw(st.sampled_from(["label", "segment", "score"]))]
    return (f"video {v}", f"results[{j}]")


@_pred
def _pred_label_not_string(p, draw):
    """a label not a string"""
    v, j, xs = _prediction(p, draw)
    xs[j]["label"] = draw(junk_except(str))
    return (f"video {v}", f"results[{j}].label")


@_pred
def _bad_score(p, draw):
    """a score not a finite number (NaN, Infinity, a bool, a string)"""
    v, j, xs = _prediction(p, draw)
    xs[j]["score"] = draw(st.one_of(NON_FINITE, junk_except(int, float)))
    return (f"video {v}", f"results[{j}].score")


@_pred
def _pred_bad_segment(p, draw):
    """a segment not two finite numbers in order"""
    v, j, xs = _prediction(p, draw)
    xs[j]["segment"] = draw(BAD_SEGMENTS)
    return (f"video {v}", f"results[{j}].segment")


@_pred
def _unknown_label(p, draw):
    """a label that is no class of the ground truth"""
    v, j, xs = _prediction(p, draw)
    xs[j]["label"] = "no-such-class!"
    return ("'no-such-class!'", f"video {v}", "field label")


# --- run records --------------------------------------------------------------------------------

def json_paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (a tuple of keys and indices) to a value inside ``obj``, containers included."""
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += json_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += json_paths(v, prefix + (i,))
    return out


@st.composite
def mutated_record(draw, obj: dict) -> tuple[bytes, tuple]:
    """(the bytes of ``obj`` with one value replaced or removed, or damaged; the path changed)."""
    how = draw(st.sampled_from(["replace", "remove", "bytes"]))
    if how == "bytes":
        return draw(damaged_bytes(json.dumps(obj, indent=2).encode())), ()
    path = draw(st.sampled_from(json_paths(obj)))
    new = json.loads(json.dumps(obj))
    parent = new
    for k in path[:-1]:
        parent = parent[k]
    if how == "remove":
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(st.one_of(JUNK, NON_FINITE, st.integers(-3, 3), st.floats(-1, 2)))
    return dump_json(new), path


HISTORY_CELLS = st.one_of(st.sampled_from(["", "nan", "inf", "-inf", "abc", "1e999", '"', "1,2", "0x10"]),
                          st.floats(allow_nan=False, allow_infinity=False).map(repr), st.integers().map(str))


# --- settings -----------------------------------------------------------------------------------

def value_text() -> st.SearchStrategy:
    """What a user may type after ``--set key=``: numbers of every size, YAML specials, names,
    lists, nested brackets, timestamps, tags, empty."""
    return st.one_of(
        st.integers(-5, 10**4).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from([".nan", ".inf", "-.inf", "nan", "inf", "1e999", "1" + "0" * 400, "1" + "0" * 5000,
                         "true", "false", "null", "~", "", "[]", "[1, 2]", "{a: 1}", "[" * 3000, "2001-01-01",
                         "!!python/object/apply:os.getcwd []", "0x1F", "1_000", "'quoted'", "a: b: c", "-",
                         "perturb", "uniform", "bf16", "soft", "nms", "mil,cll", "[mil, cll]", "himnet", "basnet",
                         "minmax", "target", "reading"]),
        NAME)


# --- cluster files ------------------------------------------------------------------------------

CLUSTER_VALUES: dict[str, st.SearchStrategy] = {
    "partition": st.just("main"),
    "time": st.sampled_from([30, "30", "1:30:00", "0-01:00:00", "45:00", 600]),
    "account": NAME, "qos": NAME,
    "cpus_per_task": st.integers(1, 4),
    "mem": st.sampled_from(["4G", "500M", 2000]),
    "gpus_per_task": st.integers(0, 1),
    "constraint": NAME,
    "exclusive": st.booleans(),
}
CLUSTER_JUNK: dict[str, st.SearchStrategy] = {
    "partition": st.one_of(st.none(), st.integers(), st.just("nosuch"), st.just("short")),
    "time": st.one_of(st.sampled_from(["1h", "-5", "0", "1:2:3:4", "", "abc", "0:00"]), NON_FINITE, st.none(),
                      st.booleans(), st.floats(0.1, 99.9)),
    "cpus_per_task": st.one_of(st.sampled_from([0, -1, "abc", 1.5, "4"]), NON_FINITE, st.none(), st.booleans()),
    "gpus_per_task": st.one_of(st.sampled_from([-1, "x", 0.5]), NON_FINITE, st.none(), st.booleans()),
    "mem": st.one_of(st.none(), NON_FINITE, st.booleans(), st.sampled_from(["", -5])),
    "account": st.one_of(st.none(), NON_FINITE, st.integers()),
    "signal_delay_s": NON_FINITE,
    "additional_parameters": st.one_of(st.integers(), st.text(max_size=3), st.none()),
}


@st.composite
def cluster_settings(draw) -> dict:
    keys = draw(st.lists(st.sampled_from(sorted(CLUSTER_VALUES)), unique=True, max_size=5))
    return {k: draw(CLUSTER_VALUES[k]) for k in keys}


def toml_text(cfg: dict) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        if isinstance(v, int):
            return str(v)
        return json.dumps(str(v))
    return "".join(f"{k} = {value(v)}\n" for k, v in cfg.items() if v is not None)


def cluster_text(cfg: dict, suffix: str) -> str:
    return toml_text(cfg) if suffix == ".toml" else yaml.safe_dump(cfg, sort_keys=False)


# --- snapshots and the in-process command line --------------------------------------------------

def snapshot(root: Path) -> dict[str, str]:
    """{relative path: sha256 of the bytes, or "dir"} of everything under ``root``."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def no_leftovers(before: dict[str, str], after: dict[str, str]) -> None:
    """Nothing changed, added or removed (no temporary file, partial output or empty folder)."""
    added = sorted(set(after) - set(before))
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not added and not changed, f"added {added}, changed or removed {changed}"


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    warned: list[str]

    def one_line_error(self, *needles: str) -> str:
        """Exit status 2, exactly one line on stderr holding every needle, no traceback, no warning."""
        assert self.code == 2, (self.code, self.err, self.out[-2000:])
        lines = self.err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in self.err, self.err
        assert not self.warned, self.warned
        for n in needles:
            assert n in lines[0], (n, lines[0])
        return lines[0]

    def ok(self) -> None:
        assert self.code == 0 and not self.warned, (self.code, self.err, self.warned)
        assert "Traceback" not in self.err + self.out


def call_cli(argv: Sequence[Any]) -> Outcome:
    """``himnet_lib.cli.main(argv)`` in this process, stdout, stderr and warnings captured."""
    from himnet_lib.cli import main

    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in argv])
    return Outcome(code, out.getvalue(), err.getvalue(), [f"{w.category.__name__}: {w.message}" for w in caught])
