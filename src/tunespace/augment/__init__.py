"""Data augmentation for intra-pair contrastive learning, with two backends of one interface.

Plain functions first: :mod:`.spectral.functional` (batched torch on power spectrograms
``(B, F, T)``, per-item parameters, on the training device) and :mod:`.waveform.functional`
(numpy on one ``(samples,)`` signal; Rubber Band, biquads, pedalboard). :mod:`.base` says what
each augmentation draws; each backend binds those specs to its functions (``spectral.TimeStretch``,
``waveform.TimeStretch``, ...). :mod:`.policy` builds named and custom policies and
:mod:`.pipeline` turns raw pair windows into model inputs (:class:`PairTransform`, the
trainer's interface).
"""

from .base import SPECS, Augmentation
from .pipeline import PairTransform, make_pair_transform, params_to_json
from .policy import NAMED, Policy, build_policy, parse_condition

__all__ = [
    "NAMED",
    "SPECS",
    "Augmentation",
    "PairTransform",
    "Policy",
    "build_policy",
    "make_pair_transform",
    "params_to_json",
    "parse_condition",
]
