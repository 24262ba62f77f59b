"""``waveform`` backend: quality first, numpy on the CPU (DataLoader workers).

Rubber Band (through pedalboard) for time-stretch and pitch-shift, RBJ biquads through
``scipy.signal.sosfilt`` for EQ, pedalboard's Freeverb for reverb, numpy for gain and noise.
Each augmentation takes ``(samples,)`` or ``(B, samples)`` float32 audio and keeps the shape
(time-stretch keeps the centre aligned; see :class:`TimeStretch`).
"""

from .eq import Equaliser
from .gain import Gain
from .noise import Noise
from .pitch_shift import PitchShift
from .reverb import Reverb
from .time_stretch import TimeStretch

__all__ = ["Equaliser", "Gain", "Noise", "PitchShift", "Reverb", "TimeStretch"]
