import numpy as np
import pytest
import torch

from tunespace.errors import ConfigError
from tunespace.features import FrontEnd, LogMel, standardise
from tunespace.features.logmel import input_bands


@pytest.fixture(scope="module")
def logmel():
    return LogMel()


@pytest.fixture(scope="module")
def signal():
    rng = np.random.default_rng(3)
    t = np.arange(8000) / 16000
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(8000)).astype(np.float32)


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_matches_librosa_melspectrogram(signal, pad_mode):
    import librosa

    fe = LogMel(FrontEnd(pad_mode=pad_mode))
    ours = fe(torch.from_numpy(signal)[None])[0].numpy()
    ref = librosa.feature.melspectrogram(
        y=signal,
        sr=16000,
        n_fft=2048,
        hop_length=160,
        win_length=400,
        window="hann",
        center=True,
        pad_mode=pad_mode,
        power=2.0,
        n_mels=96,
        fmin=0.0,
        fmax=8000.0,
        htk=True,
        norm="slaney",
    )
    ref = np.log10(1 + 10000 * ref)
    assert ours.shape == ref.shape == (96, 51)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_steps_compose_and_shapes(logmel, signal):
    x = torch.from_numpy(np.stack([signal, signal[::-1].copy()]))
    p = logmel.power(x)
    assert p.shape == (2, 1025, logmel.frames(8000))
    assert torch.all(p >= 0)
    m = logmel.mel(p)
    assert m.shape == (2, 96, 51)
    torch.testing.assert_close(logmel.compress(m), logmel(x))
    # a 440 Hz tone puts its energy in the bin nearest 440 Hz
    peak = int(p[0].mean(-1).argmax())
    assert abs(float(logmel.bin_frequencies()[peak]) - 440) < 16000 / 2048


def test_frames_round_trip(logmel):
    for n in (1, 159, 160, 48000, 71200):
        f = logmel.frames(n)
        assert f == 1 + n // 160
        assert logmel.frames(logmel.samples_for_frames(f)) == f
    assert logmel.samples_for_frames(300) == 299 * 160


def test_standardise_each_item():
    x = torch.randn(3, 1, 96, 300) * torch.tensor([1.0, 5.0, 0.1])[:, None, None, None] + 4
    y = standardise(x)
    torch.testing.assert_close(y.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        y.std(dim=(1, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0
    )  # eps=1e-5 on a std of 0.1


@pytest.mark.parametrize(
    "cfg,word",
    [
        ({"hop_length": 0}, "hop_length"),
        ({"f_max": 9000}, "f_max"),
        ({"mel_norm": "l2"}, "mel_norm"),
        ({"nfft": 512}, "nfft"),
        ({"win_length": 4096}, "win_length"),
    ],
)
def test_frontend_config_errors(cfg, word):
    with pytest.raises(ConfigError, match=word):
        FrontEnd.from_dict(cfg)


def _harmonic_tone(f0: float, seconds: float = 1.0) -> torch.Tensor:
    t = np.arange(int(16000 * seconds)) / 16000
    return torch.tensor(sum(0.3 / h * np.sin(2 * np.pi * f0 * h * t) for h in range(1, 9)), dtype=torch.float32)


@pytest.mark.parametrize(("f0", "pitch_class"), [(440.0, 9), (261.63, 0), (392.0, 7), (311.13, 3)])
def test_chroma_bands_follow_the_pitch_class(f0, pitch_class):
    fe = LogMel(FrontEnd(chroma_bins=12))
    out = fe(_harmonic_tone(f0))
    assert out.shape[0] == fe.config.n_bands == 108
    assert int(out[96:].mean(dim=1).argmax()) == pitch_class  # C = 0, librosa's order


def test_chroma_bands_leave_the_mel_bands_as_they_were(logmel, signal):
    fe = LogMel(FrontEnd(chroma_bins=12))
    wave = torch.from_numpy(signal)
    assert torch.equal(fe(wave)[:96], logmel(wave))
    assert fe.filterbank[96:].sum(dim=1).allclose(fe.filterbank[:96].sum(dim=1).mean().expand(12))
    assert (fe.filterbank[96:, fe.bin_frequencies() > 8000] == 0).all()


def test_input_bands():
    assert input_bands(None) == 96
    assert input_bands({"n_mels": 64, "chroma_bins": 12}) == 76
    with pytest.raises(ConfigError, match="chroma_bins"):
        FrontEnd(chroma_bins=-1)
