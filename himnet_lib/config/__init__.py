"""The run config, torch-free: its typed sections, the loss-term specs, the profiles and readings.

* :mod:`.run`: :class:`RunConfig` (one run, fully described), its identity, ``--set`` overrides;
* :mod:`.sections`, :mod:`.loss`, :mod:`.localize`: the ``train``, ``model``, ``baseline``,
  ``loss`` and ``localize`` sections;
* :mod:`.terms`: the loss terms of Eq. 11, one :class:`~.terms.TermSpec` each;
* :mod:`.profiles`: :class:`~.profiles.Profile` records and the readings of the paper, and
  :func:`~.profiles.build_config` (profile, then reading, then overrides).

Imports only :mod:`himnet_lib.utils`.
"""

from himnet_lib.config.profiles import PROFILES, READINGS, Profile, build_config, get_profile, profile_config
from himnet_lib.config.run import RunConfig, apply_overrides, check_config, parse_override, resolve_config

__all__ = ["PROFILES", "READINGS", "Profile", "RunConfig", "apply_overrides", "build_config", "check_config",
           "parse_override", "get_profile", "profile_config", "resolve_config"]
