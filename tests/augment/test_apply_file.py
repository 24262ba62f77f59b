import numpy as np
import pytest
import soundfile as sf

from tunespace.augment.apply_file import augment_file
from tunespace.cli import main


@pytest.fixture()
def wav(tmp_path):
    path = tmp_path / "in.wav"
    t = np.arange(16000) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    return path


def test_augment_file_full_length(wav, tmp_path):
    out = tmp_path / "out.wav"
    applied = augment_file(
        wav,
        out,
        time_stretch=0.8,
        pitch_shift=2,
        eq=[(1000.0, 6.0, 1.0)],
        gain_db=-3,
        noise_snr_db=30,
        reverb_room_size=0.5,
        seed=1,
    )
    assert set(applied) == {"time_stretch", "pitch_shift", "eq", "gain", "noise", "reverb"}
    assert applied["eq"]["peak_freq_hz"] == [1000.0] and applied["noise"] == {"snr_db": 30.0, "noise_seed": 1}
    y, sr = sf.read(out)
    assert sr == 16000 and abs(len(y) - 20000) <= 2  # not cropped: 1 s at rate 0.8 lasts 1.25 s


def test_fixed_values_go_through_the_waveform_functions(wav, tmp_path):
    from tunespace.augment.waveform import functional

    x, _ = sf.read(wav, dtype="float32")
    out = tmp_path / "out.wav"
    assert augment_file(wav, out, low_pass_hz=800.0, gain_db=-6.0) == {
        "low_pass": {"cutoff_hz": 800.0},
        "gain": {"gain_db": -6.0},
    }
    expected = functional.gain(functional.low_pass(x, 800.0, sample_rate=16000), -6.0)
    np.testing.assert_allclose(sf.read(out, dtype="float32")[0], expected, rtol=0, atol=1e-7)
    assert np.abs(expected).max() < 0.5 * 0.3  # 440 Hz through an 800 Hz low-pass and -6 dB


def test_cli_prints_params_and_errors(wav, tmp_path, capsys):
    out = tmp_path / "o.wav"
    assert main(["augment", str(wav), str(out), "--pitch-shift", "3", "--gain", "2"]) == 0
    assert '"semitones": 3.0' in capsys.readouterr().out
    assert out.exists()
    assert main(["augment", str(wav), str(out), "--low-pass", "500", "--gain", "2"]) == 0
    assert '"cutoff_hz": 500.0' in capsys.readouterr().out
    assert main(["augment", str(wav), str(out), "--time-stretch", "-1"]) == 2
    assert "augment.time_stretch.rate: -1 is outside (0, 4]" in capsys.readouterr().err
    assert main(["augment", str(wav), str(out), "--low-pass", "9000"]) == 2
    assert "augment.low_pass.cutoff_hz: 9000 Hz is not below Nyquist (8000 Hz)" in capsys.readouterr().err
    assert main(["augment", str(wav), str(out), "--eq", "100:30:1"]) == 2
    assert "augment.eq.gain_db: 30 is outside [-24, 24]" in capsys.readouterr().err
    assert main(["augment", str(wav), str(out), "--eq", "1000:6"]) == 2
    assert "--eq" in capsys.readouterr().err
    assert main(["augment", str(tmp_path / "missing.wav"), str(out), "--gain", "1"]) == 2
    assert "missing" in capsys.readouterr().err
