"""Neighbourhood locality by musical property: agreement, chance, locality with bootstrap
intervals (:mod:`.measures`, :mod:`.bootstrap`, :mod:`.profile`), estimated from a sample of
queries against a full index at catalogue scale (:mod:`.sampled`), and the report (:mod:`.report`)."""

from .profile import DEFAULT_KS, locality_profile, measures_of
from .report import read_locality, write_locality_report
from .sampled import sampled_locality

__all__ = [
    "DEFAULT_KS",
    "locality_profile",
    "measures_of",
    "read_locality",
    "sampled_locality",
    "write_locality_report",
]
