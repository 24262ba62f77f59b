"""Registry of encoders by name: ``register_encoder``, ``build_encoder``, ``list_encoders``.

A factory is any callable ``factory(n_mels: int, **kwargs) -> Encoder``, usually the encoder
class itself. Keyword arguments are checked against the factory's signature before the
call, so a misspelt option fails as a one-line :class:`tunespace.errors.ConfigError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import ConfigError
from .base import Encoder

Factory = Callable[..., Encoder]
F = TypeVar("F", bound=Factory)

_REGISTRY: dict[str, Factory] = {}


def register_encoder(name: str) -> Callable[[F], F]:
    """Decorator registering ``factory`` under ``name`` (a second registration is an error)."""

    def decorate(factory: F) -> F:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ConfigError(f"encoder '{name}' is already registered")
        _REGISTRY[name] = factory
        return factory

    return decorate


def list_encoders() -> list[str]:
    """Sorted names of the registered encoders."""
    return sorted(_REGISTRY)


def build_encoder(name: str, n_mels: int = 96, **kwargs: Any) -> Encoder:
    """Build the encoder registered as ``name``.

    Args:
        name: registry name, e.g. ``"small"`` or ``"sfnfnet_f0"``.
        n_mels: number of mel bands of the input (input height), default 96.
        **kwargs: encoder options (width, depth, embedding_dim, ...; see each encoder).

    Raises:
        ConfigError: unknown name, unknown option, or an option value out of range.
    """
    check_encoder(name, n_mels, **kwargs)
    return _REGISTRY[name](n_mels=n_mels, **kwargs)


def check_encoder(name: str, n_mels: int = 96, **kwargs: Any) -> None:
    """What :func:`build_encoder` checks before building: the name is registered and the
    options fit the factory's signature (cheap: nothing is built; values are checked when built).

    Raises:
        ConfigError: unknown name or option, ``n_mels`` below 1.
    """
    if name not in _REGISTRY:
        raise ConfigError(f"unknown encoder '{name}'; known encoders: {', '.join(list_encoders())}")
    try:
        inspect.signature(_REGISTRY[name]).bind(n_mels=n_mels, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"encoder '{name}': bad options {sorted(kwargs)}: {exc}") from None
    if int(n_mels) < 1:
        raise ConfigError(f"encoder '{name}': n_mels must be >= 1, got {n_mels}")
