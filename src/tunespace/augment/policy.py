"""Augmentation policies: which augmentations, with what probabilities, to which excerpt of a pair.

Named policies (every augmentation with ``p = 1`` and its default ranges, see
:mod:`tunespace.augment.base`): ``none``, ``ts``, ``ps``, ``eq``, ``ts+ps``, ``ts+ps+eq``
(the paper's), ``ts+ps+eq+rev`` (with reverberation) and ``lp`` (low-pass only).
Custom policies come from a dict::

    {"name": "mine", "apply_to": "one" | "both",
     "augmentations": [{"type": "pitch_shift", "p": 0.8, "min_semitones": -4, "max_semitones": 4}, ...]}

Intra-pair application (``apply_to``): by default ``"one"``, as in the paper: the policy
augments the *second* excerpt (view ``"b"``) of every pair and leaves ``"a"`` clean. NT-Xent
is symmetric in the two views, so always choosing ``b`` loses nothing against a random choice
and keeps the logs simple. ``"both"`` augments each view with independent parameters.
Augmentations run in the listed order. Types: ``time_stretch``, ``pitch_shift``, ``eq``,
``low_pass``, ``gain``, ``noise``, ``reverb`` (the spectral backend's reverberates the cropped
excerpt's mel power, after the others, whatever its place in the list); see
:data:`tunespace.augment.base.SPECS`.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..features.logmel import FrontEnd
from .base import SPECS, Augmentation

BACKENDS = ("waveform", "spectral")
TYPES = tuple(SPECS)
NAMED: dict[str, list[str]] = {
    "none": [],
    "ts": ["time_stretch"],
    "ps": ["pitch_shift"],
    "eq": ["eq"],
    "ts+ps": ["time_stretch", "pitch_shift"],
    "ts+ps+eq": ["time_stretch", "pitch_shift", "eq"],
    "ts+ps+eq+rev": ["time_stretch", "pitch_shift", "eq", "reverb"],
    "lp": ["low_pass"],
}
_APPLY_TO = ("one", "both")


@dataclass
class Policy:
    """A built policy: augmentation objects of one backend, and the views they apply to.

    Attributes:
        name: policy name (e.g. ``"ts+ps"``).
        backend: ``"waveform"`` or ``"spectral"``.
        apply_to: ``"one"`` (view ``b`` only) or ``"both"``.
        augmentations: in application order.
    """

    name: str
    backend: str
    apply_to: str = "one"
    augmentations: list[Augmentation] = field(default_factory=list)

    @property
    def views(self) -> tuple[str, ...]:
        """Views that get augmented: ``("b",)`` or ``("a", "b")``."""
        return ("a", "b") if self.apply_to == "both" else ("b",)

    def max_speedup(self) -> float:
        """Largest time-stretch rate any view may get (1.0 without time-stretch)."""
        return max([1.0] + [a.max_speedup() for a in self.augmentations])

    def sample(self, rng: np.random.Generator, n: int) -> dict[str, dict[str, dict[str, np.ndarray]]]:
        """Parameters of ``n`` pairs: ``{"a": {kind: params}, "b": {...}}`` (empty for clean views)."""
        out: dict[str, dict[str, dict[str, np.ndarray]]] = {"a": {}, "b": {}}
        for view in self.views:
            out[view] = {aug.kind: aug.sample(rng, n) for aug in self.augmentations}
        return out

    def apply_view(self, x: Any, view_params: dict[str, dict[str, np.ndarray]]) -> Any:
        """Apply the augmentations of one view with logged parameters (deterministic replay)."""
        for aug in self.augmentations:
            if aug.kind in view_params:
                x = aug.apply(x, view_params[aug.kind])
        return x


def parse_condition(text: str) -> tuple[str, str | None]:
    """``"ps@waveform"`` -> ``("ps", "waveform")``; no suffix -> ``("ps", None)``: keep the configured backend.

    Raises:
        ConfigError: an unknown backend, or an empty policy name.
    """
    name, sep, suffix = text.strip().partition("@")
    backend = suffix.strip() if sep else None
    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"augment.backend: {backend!r} is not one of {', '.join(BACKENDS)}")
    if not name.strip():
        raise ConfigError(f"augment.policy: empty policy name in {text!r}")
    return name.strip(), backend


def _make(kind: str, backend: str, kwargs: dict[str, Any], frontend: FrontEnd) -> Augmentation:
    from . import spectral, waveform

    if kind not in SPECS:
        raise ConfigError(f"augment.type: unknown augmentation {kind!r} (known: {', '.join(TYPES)})")
    # every type has a class in both backends (tests/augment/test_base.py)
    classes = {"waveform": waveform.AUGMENTATIONS, "spectral": spectral.AUGMENTATIONS}[backend]
    known = set(inspect.signature(SPECS[kind].__init__).parameters) - {"self"}
    bad = sorted(set(kwargs) - known)
    if bad:
        raise ConfigError(f"augment.{kind}.{bad[0]}: unknown parameter")
    if backend == "waveform":
        return classes[kind](sample_rate=frontend.sample_rate, **kwargs)
    return classes[kind](frontend=frontend, **kwargs)


def build_policy(
    spec: str | dict[str, Any],
    backend: str = "spectral",
    overrides: dict[str, Any] | None = None,
    frontend: FrontEnd | None = None,
) -> Policy:
    """Build a policy from a name (``"ts+ps"``, ``"ps@waveform"``) or a dict (see module doc).

    Args:
        spec: policy name, optionally with an ``@backend`` suffix (which wins over ``backend``),
            or a custom policy dict.
        backend: ``"waveform"`` or ``"spectral"``.
        overrides: ``{"apply_to": ..., "<type>": {param: value}}`` applied on top of the spec;
            a type not in the policy raises ConfigError.
        frontend: front-end settings (sample rate etc.; default: the base model's).
    Raises:
        ConfigError: unknown policy, type or parameter; value out of range.
    """
    frontend = frontend or FrontEnd()
    if isinstance(spec, str):
        name, suffix_backend = parse_condition(spec)
        backend = suffix_backend or backend
        if name not in NAMED:
            raise ConfigError(f"augment.policy: unknown policy {name!r} (known: {', '.join(NAMED)})")
        cfg: dict[str, Any] = {"name": name, "apply_to": "one", "augmentations": [{"type": t} for t in NAMED[name]]}
    elif isinstance(spec, dict):
        cfg = copy.deepcopy(spec)
        unknown = set(cfg) - {"name", "apply_to", "augmentations", "backend"}
        if unknown:
            raise ConfigError(f"augment.{sorted(unknown)[0]}: unknown policy key")
        backend = cfg.pop("backend", backend)
        if not isinstance(cfg.get("augmentations", []), list):
            raise ConfigError("augment.augmentations: must be a list")
    else:
        raise ConfigError(f"augment.policy: {type(spec).__name__} is not a name or a dict")
    if backend not in BACKENDS:
        raise ConfigError(f"augment.backend: {backend!r} is not one of {', '.join(BACKENDS)}")
    items = [dict(a) if isinstance(a, dict) else {"type": a} for a in cfg.get("augmentations", [])]
    apply_to = cfg.get("apply_to", "one")
    for key, value in (overrides or {}).items():
        if key == "apply_to":
            apply_to = value
            continue
        matches = [a for a in items if a.get("type") == key]
        if not matches:
            raise ConfigError(f"augment.{key}: override for an augmentation not in policy {cfg.get('name')!r}")
        if not isinstance(value, dict):
            raise ConfigError(f"augment.{key}: override must be a mapping of parameters")
        for a in matches:
            a.update(value)
    if apply_to not in _APPLY_TO:
        raise ConfigError(f"augment.apply_to: {apply_to!r} is not 'one' or 'both'")
    augs = []
    seen = set()
    for a in items:
        kind = a.pop("type", None)
        if kind in seen:
            raise ConfigError(f"augment.{kind}: listed twice in one policy")
        seen.add(kind)
        augs.append(_make(str(kind), backend, a, frontend))
    return Policy(name=str(cfg.get("name", "custom")), backend=backend, apply_to=apply_to, augmentations=augs)
