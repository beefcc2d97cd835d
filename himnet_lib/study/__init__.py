"""The study, torch-free (numpy, pandas, scipy): its facts, declared once (:mod:`.grids`, the runs of
every table; :mod:`.manifest`, notebook -> paper item, runs, outputs; :mod:`.claims`, the claims and
their primary tests; :mod:`.mechanisms`, the positive controls), the workspace (:mod:`.workspace`),
the run table read from run folders (:mod:`.run_table`), and everything computed from it: the tables,
the claims table and its sequential stages, dose-response, the mechanism map, statistics and
verdicts, the figures, the README report. Imports evaluation, datasets, config, utils."""
