"""``waveform`` backend: quality first, numpy on the CPU (DataLoader workers).

The operations are plain functions of one signal in :mod:`.functional` (Rubber Band through
pedalboard for time-stretch and pitch-shift, RBJ biquads through ``scipy.signal.sosfilt`` for
EQ, pedalboard's low-pass filter and Freeverb, numpy for gain and noise); :mod:`.augmentations`
binds each to its parameter sampling. The augmentation objects take ``(samples,)`` or
``(B, samples)`` float32 audio and keep the shape (time-stretch keeps the centre aligned).
"""

from . import functional
from .augmentations import (
    AUGMENTATIONS,
    Equaliser,
    Gain,
    LowPass,
    Noise,
    PitchShift,
    Reverb,
    TimeStretch,
    WaveformAugmentation,
)

__all__ = [
    "AUGMENTATIONS",
    "Equaliser",
    "Gain",
    "LowPass",
    "Noise",
    "PitchShift",
    "Reverb",
    "TimeStretch",
    "WaveformAugmentation",
    "functional",
]
