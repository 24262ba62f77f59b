"""Configuration: nested dicts loaded from YAML, overridden by ``key=value`` arguments.

A config is a plain nested ``dict``. :func:`apply_overrides` sets dotted keys
(``train.steps=200``, ``augment.pitch_shift.max_semitones=4``), parsing each value as YAML
(so ``3`` is an int, ``0.1`` a float, ``true`` a bool, ``[1,2]`` a list). Unknown keys are
refused, with the closest known key suggested (``unknown config key 'train.stepz'; did you
mean 'train.steps'?``), so that a typo never silently does nothing: :func:`merge` and
:func:`apply_overrides` check against the defaults, :func:`check_keys` against a schema (the
study config's sections). :func:`config_hash` gives a stable digest of a resolved config,
used to cache study stages.
"""

from __future__ import annotations

import copy
import difflib
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


def unknown_key(key: str, known: Iterable[Any], what: str = "config key") -> ConfigError:
    """The error for an unknown dotted ``key``, suggesting the closest of ``known`` (the keys
    allowed at its level)."""
    head, _, last = key.rpartition(".")
    names = sorted(str(k) for k in known)
    close = difflib.get_close_matches(last, names, n=1, cutoff=0.6)
    hint = f"; did you mean {(head + '.' if head else '') + close[0]!r}?" if close else ""
    listing = f" (known here: {', '.join(names)})" if names and len(names) <= 20 else ""
    return ConfigError(f"unknown {what} {key!r}{hint}{listing}")


class Each:
    """Schema of a list whose every item follows ``schema`` (see :func:`check_keys`)."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema


def check_keys(config: Any, schema: Any, where: str = "", what: str = "config key") -> None:
    """Refuse any key of ``config`` that ``schema`` does not know, at every depth.

    A schema is a mapping of the known keys to their own schemas; a non-empty mapping is a
    section whose keys are checked, an empty mapping an open section (any keys), :class:`Each`
    a list of items, and anything else (None, a default value) a leaf whose value is not
    looked into. So a defaults dict (``tunespace.train.config.DEFAULT_CONFIG``) is a schema.

    Raises:
        ConfigError: the first unknown key (dotted, with a did-you-mean suggestion), or a
            section given as something else than a mapping.
    """
    if isinstance(schema, Each):
        if isinstance(config, list):
            for i, item in enumerate(config):
                check_keys(item, schema.schema, f"{where}[{i}]", what)
        return
    if not isinstance(schema, Mapping) or not schema:
        return
    if not isinstance(config, Mapping):
        if config is None:
            return
        raise ConfigError(
            f"{where or 'the config'} must be a section (a mapping of "
            f"{', '.join(sorted(map(str, schema)))}), got {config!r}"
        )
    for k, v in config.items():
        key = f"{where}.{k}" if where else str(k)
        if k not in schema:
            raise unknown_key(key, schema, what)
        check_keys(v, schema[k], key, what)


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
                raise unknown_key(where, out)
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
            if not isinstance(node, dict):
                raise ConfigError(f"config key {'.'.join(keys[:depth])!r} is not a section")
            if strict and k not in node and node:
                raise unknown_key(".".join(keys[: depth + 1]), node)
            node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError(f"config key {'.'.join(keys[:-1])!r} is not a section")
        if strict and keys[-1] not in node and node:
            raise unknown_key(".".join(keys), node)
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
