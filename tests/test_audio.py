"""Tests of tunespace.audio: formats, values, windows, resampling, mixdown, every error reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tunespace import audio
from tunespace.errors import AudioError, UsageError

SR_IN = 44100


def _sine(freq: float, sr: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(sr * seconds))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _ramp(sr: int, seconds: float) -> np.ndarray:
    """A signal whose value tells its own position: exact offset checks on lossless files."""
    n = int(round(sr * seconds))
    return ((np.arange(n) % 2000) / 2000.0 - 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("audio")
    out: dict[str, Path] = {}
    ramp = _ramp(16000, 4.0)
    stereo = np.stack([_sine(440, SR_IN, 3.0), _sine(440, SR_IN, 3.0) * 0.5], axis=1)
    for name, data, sr, fmt, subtype in [
        ("ramp16.wav", ramp, 16000, "WAV", "FLOAT"),
        ("ramp16.flac", ramp, 16000, "FLAC", "PCM_24"),
        ("s16.wav", stereo, SR_IN, "WAV", "PCM_16"),
        ("s24.flac", stereo, SR_IN, "FLAC", "PCM_24"),
        ("f32.wav", stereo, SR_IN, "WAV", "FLOAT"),
        ("s.ogg", stereo, SR_IN, "OGG", "VORBIS"),
        ("s.opus", np.stack([_sine(440, 48000, 3.0)] * 2, axis=1), 48000, "OGG", "OPUS"),
        ("s.mp3", stereo, SR_IN, "MP3", "MPEG_LAYER_III"),
        ("m.mp3", stereo[:, 0], SR_IN, "MP3", "MPEG_LAYER_III"),
        ("r8k.wav", _sine(1000, 8000, 1.0), 8000, "WAV", "PCM_16"),
        ("r192k.flac", _sine(1000, 192000, 1.0), 192000, "FLAC", "PCM_24"),
        ("silence.flac", np.zeros(SR_IN, np.float32), SR_IN, "FLAC", "PCM_16"),
    ]:
        p = d / name
        sf.write(p, data, sr, format=fmt, subtype=subtype)
        out[name] = p
    # six channels: channel c holds the constant (c+1)/10 -> mean 0.35
    six = np.tile((np.arange(6, dtype=np.float32) + 1) / 10, (16000, 1))
    sf.write(d / "six.wav", six, 16000, subtype="FLOAT")
    out["six.wav"] = d / "six.wav"
    return out


@pytest.mark.parametrize("name", ["s16.wav", "s24.flac", "f32.wav", "s.ogg", "s.opus", "s.mp3", "m.mp3"])
def test_every_format_loads_as_float32_mono_with_its_frequency(files, name):
    y = audio.load(files[name], sr=16000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 48000) <= 16000 * 0.01
    spectrum = np.abs(np.fft.rfft(y[4000:20000]))
    assert abs(np.argmax(spectrum) * 16000 / 16000 - 440) <= 1.5
    # stereo (x, x/2) mixes to 0.75 x: peak amplitude 0.375 for the lossless files
    if name in ("s16.wav", "s24.flac", "f32.wav"):
        assert abs(np.max(np.abs(y[1000:-1000])) - 0.375) < 0.01


def test_lossless_values_exact_at_native_rate(files):
    ref = _ramp(16000, 4.0)
    np.testing.assert_array_equal(audio.load(files["ramp16.wav"], sr=16000), ref)
    np.testing.assert_allclose(audio.load(files["ramp16.flac"], sr=16000), ref, atol=2**-22)


def test_int16_values_scaled_to_unit_range(files):
    raw = sf.read(files["s16.wav"], dtype="int16")[0].astype(np.float64) / 32768
    y = audio.load(files["s16.wav"], sr=SR_IN)
    np.testing.assert_allclose(y, raw.mean(axis=1), atol=1e-6)


def test_six_channels_mix_to_mean(files):
    y = audio.load(files["six.wav"], sr=16000)
    np.testing.assert_allclose(y, 0.35, atol=1e-6)


@pytest.mark.parametrize("name,rate", [("r8k.wav", 8000), ("r192k.flac", 192000), ("s16.wav", SR_IN)])
def test_resampling_keeps_frequency_and_length(files, name, rate):
    y = audio.load(files[name], sr=16000)
    seconds = sf.info(files[name]).frames / rate
    assert len(y) == pytest.approx(seconds * 16000, abs=2)
    seg = y[2000:10000] * np.hanning(8000)
    peak_hz = np.argmax(np.abs(np.fft.rfft(seg, 16000 * 4))) / 4
    expected = 440 if name == "s16.wav" else 1000
    assert abs(peak_hz - expected) <= 1.0


@pytest.mark.parametrize("name", ["ramp16.wav", "ramp16.flac"])
@pytest.mark.parametrize("offset_s,duration_s", [(0.0, 1.0), (0.5, 0.25), (1.2345, 2.0), (3.0, 1.0)])
def test_window_exact_on_lossless(files, name, offset_s, duration_s):
    full = audio.load(files[name], sr=16000)
    w = audio.load(files[name], sr=16000, offset_s=offset_s, duration_s=duration_s)
    start = int(round(offset_s * 16000))
    assert len(w) == int(round(duration_s * 16000))
    np.testing.assert_array_equal(w, full[start : start + len(w)])


@pytest.mark.parametrize("name", ["s16.wav", "s24.flac", "s.ogg", "s.opus", "s.mp3"])
def test_resampled_window_matches_full_load(files, name):
    full = audio.load(files[name], sr=16000)
    for offset_s in (0.0, 0.5, 1.25):
        w = audio.load(files[name], sr=16000, offset_s=offset_s, duration_s=1.0)
        assert len(w) == 16000
        start = int(round(offset_s * 16000))
        np.testing.assert_allclose(w, full[start : start + 16000], atol=1e-4)


def test_window_to_end_and_past_end(files):
    y = audio.load(files["ramp16.wav"], sr=16000, offset_s=3.0)
    assert len(y) == 16000
    y = audio.load(files["ramp16.wav"], sr=16000, offset_s=3.0, duration_s=1.0)
    assert len(y) == 16000
    for kwargs in ({"offset_s": 3.5, "duration_s": 1.0}, {"offset_s": 4.0}, {"offset_s": 10.0, "duration_s": 1.0}):
        with pytest.raises(AudioError) as e:
            audio.load(files["ramp16.wav"], sr=16000, **kwargs)
        assert e.value.reason.startswith("too short")
    with pytest.raises(AudioError, match="too short"):
        audio.load(files["s.mp3"], sr=16000, offset_s=2.5, duration_s=1.0)


def test_min_duration(files):
    assert len(audio.load(files["ramp16.wav"], min_duration_s=4.0)) == 64000
    with pytest.raises(AudioError) as e:
        audio.load(files["ramp16.wav"], min_duration_s=4.5)
    assert e.value.reason.startswith("too short")


def test_silence_is_valid(files):
    y = audio.load(files["silence.flac"], sr=16000)
    assert len(y) == 16000 and not np.any(y)


def test_info_without_decoding(files):
    i = audio.info(files["s24.flac"])
    assert (i.sample_rate, i.channels, i.frames, i.format, i.subtype) == (SR_IN, 2, 3 * SR_IN, "FLAC", "PCM_24")
    assert i.duration_s == pytest.approx(3.0)
    assert audio.info(files["s.opus"]).subtype == "OPUS"
    assert audio.info(files["six.wav"]).channels == 6


def test_bad_arguments(files):
    for kwargs in ({"sr": 0}, {"offset_s": -1.0}, {"duration_s": 0.0}, {"duration_s": float("nan")}):
        with pytest.raises(UsageError):
            audio.load(files["ramp16.wav"], **kwargs)


def _reason(path: Path, **kwargs) -> str:
    with pytest.raises(AudioError) as e:
        audio.load(path, **kwargs)
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    return e.value.reason


def test_error_reasons(tmp_path, files):
    assert _reason(tmp_path / "nope.wav") == "missing"
    (tmp_path / "empty.wav").write_bytes(b"")
    assert _reason(tmp_path / "empty.wav").startswith("empty")
    (tmp_path / "garbage.wav").write_bytes(np.random.default_rng(0).bytes(4000))
    assert _reason(tmp_path / "garbage.wav").startswith("truncated or corrupt")
    (tmp_path / "text.mp3").write_text("this is not audio\n" * 100)
    assert _reason(tmp_path / "text.mp3").startswith("truncated or corrupt")
    (tmp_path / "notes.txt").write_text("this is not audio\n" * 100)
    assert _reason(tmp_path / "notes.txt").startswith("unsupported format")
    nan = np.zeros(1000, np.float32)
    nan[500] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 8000, subtype="FLOAT")
    assert _reason(tmp_path / "nan.wav").startswith("non-finite samples")
    inf = np.zeros(1000, np.float32)
    inf[3] = np.inf
    sf.write(tmp_path / "inf.flac.wav", inf, 8000, subtype="DOUBLE")
    assert _reason(tmp_path / "inf.flac.wav").startswith("non-finite samples")
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1), np.float32), 8000)
    assert _reason(tmp_path / "zero.wav").startswith("no samples")
    with pytest.raises(AudioError, match="missing"):
        audio.info(tmp_path / "nope.wav")


def test_truncated_files(tmp_path, files):
    # FLAC cut in half: the header still promises every frame; decoding fails -> corrupt.
    data = files["s24.flac"].read_bytes()
    (tmp_path / "half.flac").write_bytes(data[: len(data) // 2])
    assert _reason(tmp_path / "half.flac").startswith("truncated or corrupt")
    # WAV cut in half: libsndfile sizes the data chunk from the file, so what is there loads
    # consistently (the first half), and a window beyond it is "too short".
    data = files["s16.wav"].read_bytes()
    (tmp_path / "half.wav").write_bytes(data[: len(data) // 2])
    y = audio.load(tmp_path / "half.wav", sr=SR_IN)
    full = audio.load(files["s16.wav"], sr=SR_IN)
    assert abs(len(y) - len(full) / 2) < 100
    np.testing.assert_array_equal(y, full[: len(y)])
    assert _reason(tmp_path / "half.wav", sr=SR_IN, offset_s=2.0, duration_s=0.5).startswith("too short")
    # MP3 cut in half: the Xing header promises more than decodes -> corrupt.
    data = files["s.mp3"].read_bytes()
    (tmp_path / "half.mp3").write_bytes(data[: len(data) // 2])
    assert _reason(tmp_path / "half.mp3").startswith("truncated or corrupt")


@pytest.fixture(scope="module")
def long_flac(tmp_path_factory) -> Path:
    """20 minutes of low-level noise at 16 kHz, written in blocks."""
    p = tmp_path_factory.mktemp("long") / "long.flac"
    rng = np.random.default_rng(0)
    with sf.SoundFile(p, "w", 16000, 1, subtype="PCM_16", format="FLAC") as f:
        for _ in range(20):
            f.write((rng.standard_normal(16000 * 60) * 0.01).astype(np.float32))
    return p


def test_window_of_long_file_reads_only_the_window(long_flac, monkeypatch):
    requested: list[int] = []
    seeks: list[int] = []
    real_read, real_seek = sf.SoundFile.read, sf.SoundFile.seek

    inside_read = [False]

    def read(self, frames=-1, *args, **kwargs):
        requested.append(frames)
        inside_read[0] = True
        try:
            return real_read(self, frames, *args, **kwargs)
        finally:
            inside_read[0] = False

    def seek(self, frames, whence=sf.SEEK_SET):
        # count only the seeks tunespace makes (soundfile seeks itself to track the position)
        if whence == sf.SEEK_SET and not inside_read[0]:
            seeks.append(frames)
        return real_seek(self, frames, whence)

    monkeypatch.setattr(sf.SoundFile, "read", read)
    monkeypatch.setattr(sf.SoundFile, "seek", seek)
    y = audio.load(long_flac, sr=16000, offset_s=600.0, duration_s=3.0)
    assert len(y) == 48000
    assert seeks == [600 * 16000] and requested == [48000]
    # with resampling, only a little context around the window is read
    requested.clear()
    seeks.clear()
    y = audio.load(long_flac, sr=8000, offset_s=600.0, duration_s=3.0)
    assert len(y) == 24000
    assert len(seeks) == 1 and 600 * 16000 - 4000 < seeks[0] <= 600 * 16000
    assert sum(requested) < 3 * 16000 + 8000


def test_save_roundtrip_and_atomic(tmp_path):
    x = _sine(440, 16000, 1.0)
    audio.save(tmp_path / "a.flac", x, 16000)
    audio.save(tmp_path / "b.wav", np.stack([x, -x], axis=1), 16000)
    np.testing.assert_allclose(audio.load(tmp_path / "a.flac", sr=16000), x, atol=2**-22)
    np.testing.assert_allclose(audio.load(tmp_path / "b.wav", sr=16000), 0.0, atol=1e-7)
    assert audio.info(tmp_path / "b.wav").channels == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flac", "b.wav"]  # no temporary left
    with pytest.raises(UsageError):
        audio.save(tmp_path / "c.mp3", x, 16000)
    with pytest.raises(AudioError, match="clip"):
        audio.save(tmp_path / "c.flac", x * 3, 16000)
    bad = x.copy()
    bad[0] = np.nan
    with pytest.raises(AudioError, match="non-finite"):
        audio.save(tmp_path / "a.flac", bad, 16000)
    np.testing.assert_allclose(audio.load(tmp_path / "a.flac", sr=16000), x, atol=2**-22)  # untouched
    assert not (tmp_path / "c.flac").exists()
