"""The augmentation study: conditions x seeds -> train -> embed -> locality, retrieval, probes -> claims."""

from .config import preset, resolve_study_config
from .runner import run_study

__all__ = ["preset", "resolve_study_config", "run_study"]
