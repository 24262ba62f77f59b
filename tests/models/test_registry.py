import pytest
from torch import nn

from tunespace.errors import ConfigError
from tunespace.models import Encoder, build_encoder, list_encoders, register_encoder, registry


def test_builtin_encoders_are_registered():
    names = list_encoders()
    assert "small" in names and "sfnfnet_f0" in names
    assert names == sorted(names)


def test_unknown_name_lists_known_encoders():
    with pytest.raises(ConfigError) as info:
        build_encoder("resnet9000")
    msg = str(info.value)
    assert "resnet9000" in msg and "small" in msg and "sfnfnet_f0" in msg
    assert "\n" not in msg


def test_unknown_option_is_config_error():
    with pytest.raises(ConfigError, match="widht"):
        build_encoder("small", widht=3)


def test_build_passes_n_mels_and_kwargs():
    enc = build_encoder("small", n_mels=40, width=16, depth=1, embedding_dim=12)
    assert isinstance(enc, Encoder)
    assert enc.n_mels == 40 and enc.embedding_dim == 12


def test_register_custom_encoder_and_reject_duplicate():
    class Tiny(Encoder):
        name = "tiny_test"

        def __init__(self, n_mels: int = 96, dim: int = 3) -> None:
            super().__init__(n_mels, dim)
            self.lin = nn.Linear(n_mels, dim)

        def encode(self, x):
            return self.lin(x[:, 0].mean(-1))

    try:
        register_encoder("tiny_test")(Tiny)
        enc = build_encoder("tiny_test", n_mels=8, dim=5)
        assert enc.embedding_dim == 5 and "tiny_test" in list_encoders()
        with pytest.raises(ConfigError, match="already registered"):
            register_encoder("tiny_test")(lambda n_mels: None)
    finally:
        registry._REGISTRY.pop("tiny_test", None)
    assert "tiny_test" not in list_encoders()
