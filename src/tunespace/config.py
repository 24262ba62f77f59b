"""Configuration: nested dicts loaded from YAML, overridden by ``key=value`` arguments.

A config is a plain nested ``dict``. :func:`apply_overrides` sets dotted keys
(``train.steps=200``, ``augment.pitch_shift.max_semitones=4``), parsing each value as YAML
(so ``3`` is an int, ``0.1`` a float, ``true`` a bool, ``[1,2]`` a list). Unknown keys are
refused so that a typo never silently does nothing. :func:`config_hash` gives a stable
digest of a resolved config, used to cache study stages.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from ``path``.

    Raises:
        ConfigError: missing file, invalid YAML, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    return data


def merge(base: Mapping[str, Any], update: Mapping[str, Any], path: str = "", strict: bool = True) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base``.

    With ``strict``, a key of ``update`` that ``base`` lacks raises :class:`ConfigError`
    (except below keys whose base value is an empty dict, which are open).
    """
    out = copy.deepcopy(dict(base))
    for k, v in update.items():
        where = f"{path}.{k}" if path else str(k)
        if k not in out:
            if strict and (base or path == ""):
                raise ConfigError(f"unknown config key {where!r}")
            out[k] = copy.deepcopy(v)
        elif isinstance(out[k], dict) and isinstance(v, Mapping):
            out[k] = merge(out[k], v, where, strict=strict and bool(out[k]))
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=value"`` into (``["a","b","c"]``, parsed value)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not p for p in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(config: Mapping[str, Any], overrides: Iterable[str], strict: bool = True) -> dict[str, Any]:
    """Apply ``key=value`` overrides to a copy of ``config`` (see module docstring)."""
    out = copy.deepcopy(dict(config))
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = out
        for depth, k in enumerate(keys[:-1]):
            if not isinstance(node, dict) or (strict and k not in node and node):
                raise ConfigError(f"unknown config key {'.'.join(keys[: depth + 1])!r}")
            node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError(f"config key {'.'.join(keys[:-1])!r} is not a section")
        if strict and keys[-1] not in node and node:
            raise ConfigError(f"unknown config key {'.'.join(keys)!r}")
        node[keys[-1]] = value
    return out


def config_hash(config: Mapping[str, Any], length: int = 12) -> str:
    """Stable hex digest of a JSON-serialisable config (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def require(cond: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``cond``."""
    if not cond:
        raise ConfigError(message)
