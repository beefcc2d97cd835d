"""The parts of ``timing/bench_all.py``, one module each; :mod:`suite.parts` lists them in
run order, :mod:`suite.part` says what a part provides.

Imported with ``timing/`` on ``sys.path``, as ``python timing/bench_all.py`` runs: some parts
reuse the single-purpose sibling scripts (``bench_eval``, ``bench_localize``) from there."""
