"""``spectral`` backend: speed first, batched torch on the training device.

Every augmentation acts on the linear power spectrogram ``(B, F, T)`` (``LogMel.power``)
before the mel projection, with independent parameters per item of the batch; reverberation
(:class:`Reverb`), whose decay is the same in every band, on the cropped excerpt's mel power. The operations
are plain functions in :mod:`.functional` (written here: no library does them per item on a
batch; see its docstring for each one's method); :mod:`.augmentations` binds each to its
parameter sampling, and :mod:`.fused` runs the linear ones as one per-item mel matrix.
"""

from . import functional
from .augmentations import (
    AUGMENTATIONS,
    Equaliser,
    FrequencyWeighting,
    Gain,
    LowPass,
    Noise,
    PitchShift,
    Reverb,
    SpectralAugmentation,
    TimeStretch,
)

__all__ = [
    "AUGMENTATIONS",
    "Equaliser",
    "FrequencyWeighting",
    "Gain",
    "LowPass",
    "Noise",
    "PitchShift",
    "Reverb",
    "SpectralAugmentation",
    "TimeStretch",
    "functional",
]
