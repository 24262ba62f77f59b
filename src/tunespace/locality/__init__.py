"""Neighbourhood locality by musical property: agreement, chance, locality with bootstrap
intervals (:mod:`.measures`, :mod:`.bootstrap`, :mod:`.profile`) and the report (:mod:`.report`)."""

from .profile import DEFAULT_KS, locality_profile, measures_of
from .report import read_locality, write_locality_report

__all__ = ["DEFAULT_KS", "locality_profile", "measures_of", "read_locality", "write_locality_report"]
