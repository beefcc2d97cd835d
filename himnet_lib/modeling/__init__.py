"""The models, in torch: HiM-Net (:mod:`.himnet`) and its fast forward path (:mod:`.fast_path`), the
peer baselines (:mod:`.baselines`), the loss terms (:mod:`.losses`, one registered module per term)
and :mod:`.builder`, the one place a model variant and its loss composer are made. Imports config
and utils only: no files, no training loop."""
