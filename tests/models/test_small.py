import pytest
import torch
from torch import nn

from tunespace.errors import ConfigError, UsageError
from tunespace.models import build_encoder
from tunespace.models.small import SmallEncoder, _DilatedDepthwise


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return build_encoder("small")


@pytest.mark.parametrize("frames", [8, 64, 300, 301])
def test_output_shape_any_length(small, frames):
    x = torch.randn(3, 1, 96, frames)
    y = small(x)
    assert y.shape == (3, small.embedding_dim) == (3, 256)
    assert torch.isfinite(y).all()


def test_parameter_count_in_budget(small):
    n = small.num_parameters()
    assert 300_000 <= n <= 1_500_000, n


def test_bad_input_shapes_raise_usage_error(small):
    for shape in [(2, 96, 300), (2, 2, 96, 300), (2, 1, 80, 300), (2, 1, 96, 4)]:
        with pytest.raises(UsageError, match="small"):
            small(torch.randn(*shape))


def test_options_change_architecture():
    enc = SmallEncoder(n_mels=32, width=24, depth=2, embedding_dim=10, kernel_size=5)
    assert enc(torch.randn(2, 1, 32, 50)).shape == (2, 10)
    assert len(enc.blocks) == 2
    assert enc.num_parameters() < SmallEncoder().num_parameters()
    for bad in [dict(width=0), dict(depth=-1), dict(kernel_size=4), dict(embedding_dim=0)]:
        with pytest.raises(ConfigError):
            SmallEncoder(**bad)


def test_no_batch_leakage_in_training_mode(small):
    """GroupNorm normalises per example: an item's embedding does not depend on its batch."""
    small.train()
    x = torch.randn(4, 1, 96, 120)
    full = small(x)
    alone = small(x[1:2])
    assert torch.allclose(full[1:2], alone, atol=1e-5)


def test_gradients_reach_every_parameter():
    torch.manual_seed(1)
    enc = SmallEncoder(width=32, depth=3, embedding_dim=16)
    enc(torch.randn(4, 1, 96, 100)).square().mean().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def _tone(bin_: int, seed: int, frames: int = 300) -> torch.Tensor:
    """A harmonic tone (partials 12, 19 and 24 bins up) switching on and off at random, in noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 1, 96, frames, generator=g) * 0.05
    env = (torch.rand(frames, generator=g) < 0.3).float().cumsum(0) % 2
    for h in (0, 12, 19, 24):
        x[0, 0, bin_ + h] += env
    return x


def test_one_mel_bin_of_transposition_is_resolved(small):
    """Pitch is kept exactly (no pooling over frequency): moving a tone by one mel bin moves the
    embedding more than three times as far as another rhythm and noise at the same pitch, and
    at least half as far as an octave (12 bins) does. A network that pooled over frequency
    would put tones one bin apart next to each other."""
    small.eval()
    with torch.no_grad():
        for b in (20, 30, 40):
            e = small(_tone(b, 0))
            one_bin = (e - small(_tone(b + 1, 0))).norm()
            octave = (e - small(_tone(b + 12, 0))).norm()
            same_pitch = (e - small(_tone(b, 1))).norm()
            assert one_bin > 3 * same_pitch and one_bin > 0.5 * octave, (b, one_bin, octave, same_pitch)


def _clicks(tilt: float, period: int, frames: int = 300) -> torch.Tensor:
    """Broadband clicks every ``period`` frames, spectral envelope exp(-tilt * bin / 96)."""
    x = torch.zeros(1, 96, frames)
    x[0, :, 3::period] = torch.exp(-tilt * torch.arange(96) / 96.0)[:, None]
    return x


def test_rhythm_path_makes_the_embedding_tempo_sensitive():
    """The rhythm path's features (which the head reads) tell tempi apart whatever the timbre:
    click trains of one tempo with three spectral envelopes are nearer to each other than any
    two tempi (150, 120, 97 BPM at a 10 ms hop) of one envelope; and they move the embedding."""
    from tunespace.models import build_encoder

    torch.manual_seed(0)
    enc = build_encoder("small", width=16, depth=1, embedding_dim=16).eval()
    no = build_encoder("small", width=16, depth=1, embedding_dim=16, rhythm_channels=0)
    assert enc.rhythm is not None and no.rhythm is None
    assert enc.head.in_features == no.head.in_features + 16  # the head reads the rhythm features
    tilts, periods = (0.0, 2.0, 4.0), (40, 50, 62)
    with torch.no_grad():
        f = {(t, p): enc.rhythm(_clicks(t, p))[0] for t in tilts for p in periods}
        same_tempo = max((f[(a, p)] - f[(b, p)]).norm() for p in periods for a in tilts for b in tilts if a < b)
        other_tempo = min((f[(t, p)] - f[(t, q)]).norm() for t in tilts for p in periods for q in periods if p < q)
        assert same_tempo < other_tempo, (same_tempo, other_tempo)
        x = _clicks(0.0, 50)[:, None]
        full = enc(x)
        enc.head.weight[:, -16:] = 0.0  # without the rhythm features' contribution
        assert (full - enc(x)).abs().max() > 1e-3


@pytest.mark.parametrize("kernel,dilation", [(3, 1), (3, 8), (5, 2)])
def test_hand_written_depthwise_matches_conv1d(kernel, dilation):
    torch.manual_seed(3)
    mine = _DilatedDepthwise(6, kernel, dilation)
    ref = nn.Conv1d(6, 6, kernel, padding=dilation * (kernel // 2), dilation=dilation, groups=6)
    with torch.no_grad():
        ref.weight.copy_(mine.weight.permute(1, 2, 0))
        ref.bias.copy_(mine.bias[:, 0])
    x = torch.randn(2, 6, 37)
    assert torch.allclose(mine(x), ref(x), atol=1e-6)


def test_rhythm_path_autocorrelation_peaks_at_the_beat_period():
    """Clicks every 50 frames (120 BPM at a 10 ms hop) -> the autocorrelation peaks at lag 50."""
    from tunespace.models.small import _RhythmBranch

    torch.manual_seed(0)
    branch = _RhythmBranch(n_mels=96, channels=2, out_dim=8)
    with torch.no_grad():
        branch.onset.weight.zero_()
        branch.onset.weight[:, :, 1] = 1.0 / 96  # onset = broadband positive flux
        branch.onset.bias.zero_()
    for period in (50, 37, 80):
        x = torch.zeros(1, 96, 300)
        x[..., ::period] = 1.0
        ac = branch.autocorrelation(x)[0, 0]
        assert int(torch.argmax(ac[20:])) + 20 == period
    assert branch(torch.randn(3, 96, 300)).shape == (3, 8)


def test_key_path_reads_the_pitch_class_rows_and_its_dft_part_ignores_transposition():
    """The key path's profile rotates with the pitch-class rows; its DFT magnitudes do not."""
    torch.manual_seed(2)
    enc = SmallEncoder(n_mels=32 + 12, width=24, depth=2, embedding_dim=10, pitch_classes=12, pitch_dim=5)
    x = torch.randn(3, 1, 44, 60)
    feats = enc.pitch.features(x[:, 0])
    assert feats.shape == (3, 12 + 6)
    rolled = x.clone()
    rolled[:, :, -12:] = torch.roll(x[:, :, -12:], shifts=5, dims=2)  # transpose up 5 semitones
    moved = enc.pitch.features(rolled[:, 0])
    assert torch.allclose(moved[:, 12:], feats[:, 12:], atol=1e-5)  # interval content: unchanged
    assert torch.allclose(moved[:, :12], torch.roll(feats[:, :12], 5, dims=1), atol=1e-5)
    assert not torch.allclose(moved[:, :12], feats[:, :12], atol=1e-3)
    other = x.clone()
    other[:, :, :32] = torch.randn(3, 1, 32, 60)  # the mel rows do not reach the key path
    assert torch.equal(enc.pitch.features(other[:, 0]), feats)
    assert enc(x).shape == (3, 10)
    assert (
        SmallEncoder(n_mels=44, width=24, depth=2, pitch_classes=12).num_parameters()
        > SmallEncoder(n_mels=44, width=24, depth=2).num_parameters()
    )


def test_key_path_options_are_checked():
    with pytest.raises(ConfigError, match="pitch_classes"):
        SmallEncoder(n_mels=12, pitch_classes=12)
    with pytest.raises(ConfigError, match="pitch_dim"):
        SmallEncoder(n_mels=108, pitch_classes=12, pitch_dim=0)
    with pytest.raises(ConfigError, match="pitch_classes"):
        SmallEncoder(pitch_classes=-1)


def test_metre_pattern_ignores_tempo_and_tells_metres_apart():
    """The rhythm path's metre pattern: the same figure at two tempi reads alike, duple and triple differ."""
    import math

    enc = SmallEncoder(n_mels=32, width=16, depth=1, rhythm_metre=True)
    lag = torch.arange(300.0)

    def ac(period: float, sub: int) -> torch.Tensor:  # beat at `period` frames, subdivided in `sub`
        return ((torch.cos(2 * math.pi * lag / period) + 0.5 * torch.cos(2 * math.pi * lag * sub / period)) / 1.5)[
            None, None
        ]

    triple, triple_faster, duple = (enc.rhythm.metre_pattern(ac(p, k)) for p, k in ((40.0, 3), (48.0, 3), (40.0, 2)))
    assert triple.shape == (1, 1, 8)
    assert torch.allclose(triple, triple_faster, atol=0.02)
    assert (triple - duple).abs().max() > 0.3
    assert enc(torch.randn(2, 1, 32, 300)).shape == (2, 256)
    assert enc.num_parameters() > SmallEncoder(n_mels=32, width=16, depth=1).num_parameters()
