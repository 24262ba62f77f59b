"""SoundFont rendering: exact length, normalisation, determinism, the notes are heard."""

from __future__ import annotations

import numpy as np
import pretty_midi

from tunespace.corpus.render import normalise, render_midi


def _pm(pitch=69, program=0, start=0.0, end=1.0):
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    inst.notes.append(pretty_midi.Note(100, pitch, start, end))
    pm.instruments.append(inst)
    return pm


def test_length_level_and_determinism():
    a = render_midi(_pm(), 2.5)
    assert a.dtype == np.float32 and a.shape == (40000,)
    assert np.max(np.abs(a)) <= 10 ** (-1 / 20) + 1e-6
    assert np.array_equal(a, render_midi(_pm(), 2.5))


def test_pitch_is_rendered():
    a = render_midi(_pm(pitch=69, program=73), 1.5)  # flute A4 = 440 Hz
    spec = np.abs(np.fft.rfft(a[4000:16000] * np.hanning(12000)))
    freqs = np.fft.rfftfreq(12000, 1 / 16000)
    assert abs(freqs[np.argmax(spec)] - 440.0) < 5.0


def test_note_timing():
    a = render_midi(_pm(start=1.0, end=1.5), 2.0)
    env = np.abs(a)
    assert env[: int(0.95 * 16000)].max() < 1e-3 * env.max()
    assert env[16000:24000].max() > 0.5 * env.max()


def test_normalise_silence_and_peak():
    assert np.all(normalise(np.zeros(100)) == 0)
    x = np.zeros(1000)
    x[0] = 1.0  # one spike: RMS target would clip, the peak cap wins
    assert np.isclose(np.max(np.abs(normalise(x))), 10 ** (-1 / 20), rtol=1e-5)
