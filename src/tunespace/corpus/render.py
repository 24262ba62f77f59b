"""Render a MIDI performance to 16 kHz mono audio with a General MIDI SoundFont.

The synthesiser is ``tinysoundfont`` (TinySoundFont: offline, no system library); the
SoundFont is the GM bank ``TimGM6mb.sf2`` that ships inside ``pretty_midi``. The
PrettyMIDI notes are sent to the synthesiser directly (no MIDI file round trip): the
buffer is rendered up to each event's sample position, then the event is applied, so the
result is sample-exact and deterministic. Rendering happens at :data:`RENDER_RATE` and is
resampled by soxr to the output rate (the synthesiser's own interpolation aliases when
rendering straight at 16 kHz). Each track is then loudness-normalised: RMS to
:data:`TARGET_RMS_DBFS`, lowered if needed so the peak stays at or below
:data:`PEAK_DBFS` (no clipping).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pretty_midi
import soxr
import tinysoundfont

from ..errors import ConfigError

RENDER_RATE = 32000
TARGET_RMS_DBFS = -20.0
PEAK_DBFS = -1.0
DRUM_CHANNEL = 9


def default_soundfont() -> Path:
    """Path of the General MIDI SoundFont that ships with pretty_midi."""
    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


@functools.lru_cache(maxsize=2)
def _soundfont_bytes(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: SoundFont not found")
    return p.read_bytes()


def render_midi(
    pm: pretty_midi.PrettyMIDI, seconds: float, sample_rate: int = 16000, soundfont: str | Path | None = None
) -> np.ndarray:
    """Synthesise ``pm`` and return exactly ``seconds`` of normalised mono audio.

    Args:
        pm: the performance; at most 15 melodic instruments plus drums (``is_drum``).
            Program (0-based GM program or, for drums, GM kit), notes and control changes
            (e.g. CC 7 volume) are used.
        seconds: output duration in seconds; notes after it are cut, with a 0.25 s fade-out.
        sample_rate: output sample rate in Hz.
        soundfont: SF2 file (default :func:`default_soundfont`).
    Returns:
        float32 array, shape ``(round(seconds * sample_rate),)``, RMS-normalised, peak <= -1 dBFS.
    """
    sf_path = str(soundfont or default_soundfont())
    synth = tinysoundfont.Synth(samplerate=RENDER_RATE, gain=-12.0)
    sfid = synth.sfload(_soundfont_bytes(sf_path), max_voices=128)
    events: list[tuple[int, int, int, int, int]] = []  # (frame, order, channel, a, b)
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    for inst in pm.instruments:
        if inst.is_drum:
            ch = DRUM_CHANNEL
        else:
            if not free:
                raise ConfigError("too many instruments to render: at most 15 melodic parts")
            ch = free.pop(0)
        synth.program_select(ch, sfid, 128 if inst.is_drum else 0, inst.program, inst.is_drum)
        for cc in inst.control_changes:
            events.append((int(round(cc.time * RENDER_RATE)), 0, ch, -cc.number - 1, cc.value))
        for n in inst.notes:
            events.append((int(round(n.start * RENDER_RATE)), 2, ch, n.pitch, n.velocity))
            events.append((int(round(n.end * RENDER_RATE)), 1, ch, n.pitch, 0))
    events.sort()
    n_frames = int(round(seconds * RENDER_RATE))
    buf = memoryview(bytearray(n_frames * 8))  # stereo float32
    pos = 0
    for frame, kind, ch, a, b in events:
        if frame >= n_frames:
            break
        if frame > pos:
            synth.generate_simple(frame - pos, buffer=buf[pos * 8 : frame * 8])
            pos = frame
        if kind == 0:
            synth.control_change(ch, -a - 1, b)
        elif kind == 1:
            synth.noteoff(ch, a)
        else:
            synth.noteon(ch, a, b)
    if pos < n_frames:
        synth.generate_simple(n_frames - pos, buffer=buf[pos * 8 :])
    stereo = np.frombuffer(buf, dtype=np.float32).reshape(-1, 2)
    mono = stereo.mean(axis=1, dtype=np.float64)
    out = soxr.resample(mono, RENDER_RATE, sample_rate, quality="HQ")
    n_out = int(round(seconds * sample_rate))
    out = np.pad(out, (0, max(0, n_out - len(out))))[:n_out]
    return normalise(fade(out, sample_rate))


def fade(audio: np.ndarray, sample_rate: int, in_s: float = 0.005, out_s: float = 0.25) -> np.ndarray:
    """Linear fade-in of ``in_s`` and fade-out of ``out_s`` seconds (shape unchanged)."""
    a = np.array(audio, dtype=np.float64)
    n_in, n_out = min(len(a), int(in_s * sample_rate)), min(len(a), int(out_s * sample_rate))
    if n_in:
        a[:n_in] *= np.linspace(0.0, 1.0, n_in, endpoint=False)
    if n_out:
        a[len(a) - n_out :] *= np.linspace(1.0, 0.0, n_out)
    return a


def normalise(audio: np.ndarray) -> np.ndarray:
    """RMS to :data:`TARGET_RMS_DBFS`, capped so the peak is <= :data:`PEAK_DBFS`; float32."""
    a = np.asarray(audio, dtype=np.float64)
    rms = float(np.sqrt(np.mean(a**2))) if len(a) else 0.0
    peak = float(np.max(np.abs(a))) if len(a) else 0.0
    if rms <= 1e-9:
        return a.astype(np.float32)
    gain = min(10 ** (TARGET_RMS_DBFS / 20) / rms, 10 ** (PEAK_DBFS / 20) / peak)
    return (a * gain).astype(np.float32)
