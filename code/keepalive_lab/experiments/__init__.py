"""The investigation's experiments, registered by name in :data:`EXPERIMENTS`.

Importing this package registers every experiment (``incident`` and
``sweeps``); :mod:`.catalogue` lists the fixes they can apply.
"""

from keepalive_lab.experiments import incident, sweeps  # noqa: F401  (registers the experiments)
from keepalive_lab.experiments.catalogue import FIXES, Fix, fix_named
from keepalive_lab.experiments.incident import GhostParams, OneLbParams, SelfStarvationParams, SymptomParams
from keepalive_lab.experiments.sweeps import ArticleFixesParams, FixesParams, GridParams, RaceParams
from keepalive_lab.lab.registry import EXPERIMENTS, Experiment

__all__ = [
    "EXPERIMENTS", "Experiment", "FIXES", "Fix", "fix_named", "SymptomParams", "OneLbParams",
    "SelfStarvationParams", "GhostParams", "RaceParams", "GridParams", "FixesParams", "ArticleFixesParams",
]  # fmt: skip
