"""HiM-Net study library: data, model, losses, training, localization and evaluation."""

__version__ = "0.1.0"
