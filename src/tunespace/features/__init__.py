"""Audio front end: the log-mel spectrogram of the base model (MULE), as a torch module."""

from .logmel import FrontEnd, LogMel, standardise

__all__ = ["FrontEnd", "LogMel", "standardise"]
