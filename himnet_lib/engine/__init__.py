"""Running the study: one training run (:mod:`.train`, with :mod:`.run_params` and
:mod:`.checkpoints`) and inference (:mod:`.inference`), many runs claimed by locks on the local
process pool or Slurm (:mod:`.executor`, :mod:`.slurm`, :mod:`.process_pool`), checks of the options
before work starts (:mod:`.preflight`), ``himnet reproduce`` (:mod:`.reproduce`), notebook execution
and kernels, JupyterLab's managers, ``himnet diagnose`` and ``himnet migrate-runs``. The only layer
that trains; it imports every layer below the command line."""
