"""The old name of :mod:`crowdagg.mturk` (the Mechanical Turk readers), kept so that old imports work."""
from .mturk import MTurkInfo, read_mturk, read_mturk_assignments  # noqa: F401
