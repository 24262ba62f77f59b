"""Data augmentation for intra-pair contrastive learning, with two backends of one interface.

``waveform`` (numpy, CPU, loader workers; Rubber Band, biquads) and ``spectral`` (batched
torch on the training device, per-item parameters, on the power spectrogram). See
:mod:`.base` (interface and parameter sampling), :mod:`.policy` (named policies) and
:mod:`.pipeline` (:class:`PairTransform`, the trainer's interface).
"""

from .base import Augmentation
from .pipeline import PairTransform, collate_params, make_pair_transform, params_to_json
from .policy import NAMED, Policy, build_policy, parse_condition

__all__ = ["NAMED", "Augmentation", "PairTransform", "Policy", "build_policy", "collate_params",
           "make_pair_transform", "params_to_json", "parse_condition"]
