"""The parts of ``benchmarks/bench_all.py``, one module each; :mod:`benchsuite.parts` lists them in
run order, :mod:`benchsuite.part` says what a part provides.

Imported with ``benchmarks/`` on ``sys.path``, as ``python benchmarks/bench_all.py`` runs: some parts
reuse the single-purpose sibling scripts (``bench_eval``, ``bench_localize``) from there."""
