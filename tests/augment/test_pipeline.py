import json

import numpy as np
import pytest
import torch

from tunespace.augment import make_pair_transform, params_to_json
from tunespace.errors import ConfigError


@pytest.fixture(scope="module")
def windows():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 2, 72000)).astype(np.float32) * 0.1


def test_input_seconds():
    pt = make_pair_transform("ts+ps+eq", "spectral", None, 3.0)
    assert 3.0 * 1.4 + 0.25 <= pt.input_seconds() <= 3.0 * 1.4 + 0.25 + 0.02
    assert (pt.input_samples - 48000) % 320 == 0
    assert pt.input_samples % 160 == 0 and pt.target_frames == 300
    assert make_pair_transform("ps", "waveform", None, 3.0).input_seconds() == pytest.approx(3.26, abs=0.011)


@pytest.mark.parametrize("backend", ["waveform", "spectral"])
def test_pair_transform_shapes_and_params(backend, windows):
    pt = make_pair_transform("ts+ps+eq", backend, None, 3.0)
    n = pt.input_samples
    rng = np.random.default_rng(1)
    outs = [pt.cpu_stage(w[0][:n], w[1][:n], rng) for w in windows]
    a = torch.from_numpy(np.stack([o[0] for o in outs]))
    b = torch.from_numpy(np.stack([o[1] for o in outs]))
    expected_len = 48000 if backend == "waveform" else n
    assert a.shape == b.shape == (3, expected_len)
    xa, xb, params = pt.device_stage(a, b, torch.Generator().manual_seed(0))
    assert xa.shape == xb.shape == (3, 1, 96, 300)
    torch.testing.assert_close(xa.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-4, rtol=0)
    if backend == "waveform":  # drawn per pair in cpu_stage (a loader worker), logged per pair
        assert params == {}
        assert all(o[2]["a"] == {} and o[2]["b"]["time_stretch"]["rate"].shape == (1,) for o in outs)
        params = outs[0][2]
    else:  # drawn per batch on the device
        assert [o[2] for o in outs] == [{}, {}, {}]
        assert params["a"] == {} and params["b"]["time_stretch"]["rate"].shape == (3,)
    assert params["b"]["eq"]["applied"].dtype == bool
    json.dumps(params_to_json(params))
    # view a is unaugmented: equal to the plain front end of the centre of the window
    fe = pt.frontend
    centre = torch.from_numpy(windows[0, 0, :n][(n - 48000) // 2 : (n + 48000) // 2].copy())
    ref = fe(centre[None])[..., :300]
    ref = (ref - ref.mean()) / (ref.std(unbiased=False) + 1e-5)
    diff = (xa[0, 0] - ref[0]).abs().mean()
    assert diff < 0.05
    assert (xb[0, 0] - ref[0]).abs().mean() > 0.2


def test_spectral_device_stage_is_seeded(windows):
    pt = make_pair_transform("ts+ps+eq", "spectral", None, 3.0)
    a = torch.from_numpy(windows[:, 0, : pt.input_samples].copy())
    b = torch.from_numpy(windows[:, 1, : pt.input_samples].copy())
    r1 = pt.device_stage(a, b, torch.Generator().manual_seed(5))
    r2 = pt.device_stage(a, b, torch.Generator().manual_seed(5))
    r3 = pt.device_stage(a, b, torch.Generator().manual_seed(6))
    torch.testing.assert_close(r1[1], r2[1], rtol=0, atol=0)
    assert not torch.allclose(r1[1], r3[1])
    # replay: applying the logged params reproduces view b
    p = pt.frontend.power(b)
    x = pt.policy.apply_view(p, r1[2]["b"])
    x = pt.frontend.compress(pt.frontend.mel(x))
    start = (x.shape[-1] - 300) // 2
    x = x[..., start : start + 300]
    x = (x - x.mean(dim=(1, 2), keepdim=True)) / (x.std(dim=(1, 2), keepdim=True, unbiased=False) + 1e-5)
    torch.testing.assert_close(x, r1[1][:, 0])


def test_wrong_window_length_is_config_error():
    pt = make_pair_transform("none", "waveform", None, 3.0)
    with pytest.raises(ConfigError, match="wave_a"):
        pt.cpu_stage(np.zeros(100, np.float32), np.zeros(pt.input_samples, np.float32), np.random.default_rng(0))


@pytest.mark.parametrize(
    "spec",
    [
        "ts+ps+eq",
        {"augmentations": [{"type": "gain"}, {"type": "pitch_shift"}, {"type": "eq"}, {"type": "time_stretch"}]},
        {"augmentations": [{"type": "low_pass"}, {"type": "pitch_shift"}, {"type": "time_stretch"}, {"type": "gain"}]},
    ],
)
def test_fused_spectral_path_equals_step_by_step(spec, windows):
    from tunespace.augment.spectral.fused import fusable, fused_mel

    pt = make_pair_transform(spec, "spectral", None, 3.0)
    assert fusable(pt.policy.augmentations)
    x = torch.from_numpy(windows[:, 0, : pt.input_samples].copy())
    p = pt.frontend.power(x)
    params = pt.policy.sample(np.random.default_rng(4), 3)["b"]
    params["pitch_shift"]["applied"][1] = False  # mix of applied and not
    params[pt.policy.augmentations[0].kind]["applied"][2] = False
    ref = pt.frontend.mel(pt.policy.apply_view(p, params))
    start = (ref.shape[-1] - 300) // 2
    ref = ref[..., start : start + 300]
    got = fused_mel(p, pt.frontend.filterbank, pt.policy.augmentations, params, 300)
    torch.testing.assert_close(got, ref, rtol=1e-3, atol=1e-3 * float(ref.abs().max()))
    clean = pt.frontend.mel(p)[..., start : start + 300]
    assert (got - clean).abs().mean() > 0.05 * clean.abs().mean()  # it did augment


def test_noise_is_not_fused():
    from tunespace.augment.spectral.fused import fusable

    assert not fusable(make_pair_transform({"augmentations": [{"type": "eq"}, {"type": "noise"}]}).policy.augmentations)
    assert not fusable(make_pair_transform({"augmentations": ["gain", "reverb"]}, "waveform").policy.augmentations)


def test_make_pair_transform_takes_a_frontend_and_overrides():
    from tunespace.features import FrontEnd

    fe = FrontEnd(n_mels=64)
    pt = make_pair_transform("ts+ps", "spectral", fe, 2.0, {"time_stretch": {"max_rate": 1.2}})
    assert pt.frontend.config is fe and pt.policy.augmentations[0].frontend is fe
    assert pt.policy.max_speedup() == 1.2 and pt.target_frames == 200
    assert make_pair_transform("ps", "spectral", {"n_mels": 64}).frontend.config == fe


def test_reverb_acts_on_the_excerpt_in_the_fused_and_the_unfused_path(windows, monkeypatch):
    """``ts+ps+eq+rev``: the others are fused, reverberation follows on the cropped mel power;
    the step-by-step path gives the same views; reverberation changed them."""
    import tunespace.augment.pipeline as pipeline
    from tunespace.augment.spectral import Reverb
    from tunespace.augment.spectral.fused import fusable

    pt = make_pair_transform("ts+ps+eq+rev", "spectral", None, 3.0)
    assert isinstance(pt.policy.augmentations[-1], Reverb) and not fusable(pt.policy.augmentations)
    a = pt.frontend.power(torch.from_numpy(windows[:, 0, : pt.input_samples].copy()))
    b = pt.frontend.power(torch.from_numpy(windows[:, 1, : pt.input_samples].copy()))
    fused = pt.device_stage_power(a, b, torch.Generator().manual_seed(3))
    monkeypatch.setattr(pipeline, "fusable", lambda augs: False)
    step = pt.device_stage_power(a, b, torch.Generator().manual_seed(3))
    torch.testing.assert_close(fused[1], step[1], rtol=1e-3, atol=2e-3)
    assert fused[2]["b"]["reverb"]["wet_level"].shape == (a.shape[0],)
    plain = make_pair_transform("ts+ps+eq", "spectral", None, 3.0)
    dry = plain.device_stage_power(a, b, torch.Generator().manual_seed(3))
    torch.testing.assert_close(fused[0], dry[0])  # view a stays clean
    assert (fused[1] - dry[1]).abs().mean() > 0.05  # same draws for ts, ps, eq: the room made the difference
