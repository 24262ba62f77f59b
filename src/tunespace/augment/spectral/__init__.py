"""``spectral`` backend: speed first, batched torch on the training device.

Every augmentation acts on the linear power spectrogram ``(B, F, T)`` (``LogMel.power``)
before the mel projection, with independent parameters per item of the batch. No library
does this (torchaudio-augmentations has no time-stretch or EQ and no per-item parameters);
the operations are written here, each documented in its module:

- time-stretch: linear interpolation of each item's frames along time (centre fixed);
- pitch-shift: linear interpolation of each item's linear-frequency axis by ``2 ** (n / 12)``;
- EQ: multiplication by the exact power response of the same RBJ biquads as the waveform
  backend, evaluated at the STFT bin frequencies;
- gain: multiplication; noise: added exponential-distributed white-noise power.
"""

from .eq import Equaliser
from .gain import Gain
from .noise import Noise
from .pitch_shift import PitchShift
from .time_stretch import TimeStretch

__all__ = ["Equaliser", "Gain", "Noise", "PitchShift", "TimeStretch"]
