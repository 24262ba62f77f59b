"""Configuration: typed settings, defined once, resolved into plain nested dicts.

Every setting (of the trainer, the study, the front end) is a :class:`Param` (default, type,
unit, documentation, allowed values) in a :class:`Section`; the definitions live next to the
code that uses them (:data:`tunespace.train.config.TRAIN`, :data:`tunespace.study.config.STUDY`,
:class:`tunespace.features.FrontEnd`). From them follow:

- the defaults (:meth:`Section.complete`);
- the checks (:func:`check_keys`): every key at every depth, unknown keys refused with the
  closest known key suggested (``unknown config key 'train.stepz'; did you mean
  'train.steps'?``), values of the wrong type or out of range refused naming the dotted key
  (``train.batch_size must be an integer >= 2, got true``); a bool is never an integer or a
  number;
- the reference ``docs/config.md`` (:func:`reference_markdown`; regenerate it with
  ``python -m tunespace.config --write docs/config.md``, a test fails when it is stale).

A resolved config is a plain nested ``dict`` (JSON-serialisable; ``RUN/config.json``). One merge
rule builds it from layers (defaults, preset, file): :func:`merge` merges a mapping into a
mapping key by key at every depth, and anything else (a number, a string, a list) replaces the
value before it; a section marked ``whole`` (a study's ``train_data``) is replaced whole.
Then :func:`apply_overrides` sets ``key=value`` arguments (``train.steps=200``,
``augment.overrides.pitch_shift.max_semitones=4``), each value parsed as YAML (``3`` an int,
``0.1`` a float, ``true`` a bool, ``[1,2]`` a list, ``{a: 1}`` a mapping that replaces the
section). :func:`config_hash` gives a stable digest of a resolved config, used to cache
study stages.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import math
import os
import re
import sys
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with YAML 1.2's numbers and booleans: ``1e-3`` and ``2E+4`` are
    floats (YAML 1.1, PyYAML's, reads a float without a dot as a string, so ``lr: 1e-3`` was
    refused), and only ``true`` / ``false`` are booleans (YAML 1.1 also reads ``on``, ``off``,
    ``yes``, ``no`` as booleans, so ``train.amp=off`` was refused as ``false``)."""


YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def yaml_load(text: str) -> Any:
    """``yaml.safe_load`` with :class:`YamlLoader` (exponent numbers are floats)."""
    return yaml.load(text, Loader=YamlLoader)  # noqa: S506 - a SafeLoader subclass


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from ``path``.

    Raises:
        ConfigError: missing file, invalid YAML, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
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


# --------------------------------------------------------------------------- definitions

#: The value types a :class:`Param` may name, and how they are called in messages and docs.
_WORDS: dict[Any, tuple[str, str]] = {
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    bool: ("true or false", "true or false"),
    str: ("a string", "strings"),
    Path: ("a path", "paths"),
    list: ("a list", "lists"),
    dict: ("a mapping", "mappings"),
}


def _is(value: Any, t: Any) -> bool:
    """``value`` is of the config type ``t`` (a bool is not an int; a number is finite)."""
    if t is bool:
        return isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if t is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        try:
            return math.isfinite(value)
        except OverflowError:  # an int beyond a float's range
            return False
    if t is str:
        return isinstance(value, str)
    if t is Path:
        return isinstance(value, (str, os.PathLike))
    if t is list:
        return isinstance(value, list)
    if t is dict:
        return isinstance(value, Mapping)
    raise TypeError(f"not a config type: {t!r}")


def show(value: Any) -> str:
    """A value as written in YAML (``true``, ``null``, ``'abc'``, ``[1, 2]``), for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _plain(value: Any) -> str:
    """A value as written in YAML, strings unquoted (for lists of choices and the docs)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    return value if isinstance(value, str) and value else show(value)


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


@dataclass(frozen=True)
class Param:
    """One setting: its default, type, unit and documentation, and the values it accepts.

    Attributes:
        default: the value when none is given.
        type: ``int``, ``float`` (any finite number; ints too), ``bool``, ``str``, ``Path`` (a
            string or path), ``list`` (of ``item``), ``dict`` (a free-form mapping, checked by
            whatever reads it), or a tuple of them (any of).
        doc: one sentence or two, for ``docs/config.md``.
        unit: e.g. ``"s"``, ``"Hz"``, ``"GB"``, ``"steps"`` (empty: dimensionless).
        choices: the values allowed (of a list: the items allowed).
        also: literal values accepted besides ``type`` (``"auto"``, ``None``).
        min, max: bounds of a number (of a list: of each item); ``min_open`` / ``max_open``
            exclude them.
        item: the type of a list's items.
        min_items: the fewest items of a list.
        check: a further test of the value (True: fine), described by ``expects``.
        expects: what the value must be, in words, when the derived description will not do.
        required: no default: the setting must be given.
        fill: the default is written into the resolved config (False: applied where used).
    """

    default: Any
    type: Any
    doc: str
    unit: str = ""
    choices: tuple[Any, ...] = ()
    also: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    item: Any = None
    min_items: int = 0
    check: Callable[[Any], bool] | None = None
    expects: str = ""
    required: bool = False
    fill: bool = True

    def _scalar_ok(self, value: Any, types: tuple[Any, ...]) -> bool:
        if not any(_is(value, t) for t in types):
            return False
        if self.choices and value not in self.choices:
            return False
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.min is not None and (value <= self.min if self.min_open else value < self.min):
                return False
            if self.max is not None and (value >= self.max if self.max_open else value > self.max):
                return False
        return self.check is None or bool(self.check(value))

    def accepts(self, value: Any) -> bool:
        """``value`` is of this setting's type, within its choices and range."""
        if any(type(value) is type(a) and value == a for a in self.also):
            return True
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        if list in types and isinstance(value, list) and self.item is not None:
            return len(value) >= self.min_items and all(self._scalar_ok(v, (self.item,)) for v in value)
        return self._scalar_ok(value, types)

    def _range(self) -> str:
        lo, hi = self.min, self.max
        if lo is not None and hi is not None:
            return f" in {'(' if self.min_open else '['}{lo:g}, {hi:g}{')' if self.max_open else ']'}"
        if lo is not None:
            return f" {'>' if self.min_open else '>='} {lo:g}"
        if hi is not None:
            return f" {'<' if self.max_open else '<='} {hi:g}"
        return ""

    def describe(self) -> str:
        """What the value must be, in words (``an integer >= 2``, ``auto, true or false``)."""
        if self.expects:
            main = self.expects
        else:
            types = self.type if isinstance(self.type, tuple) else (self.type,)
            if types == (list,) and self.item is not None:
                kind = "non-empty list" if self.min_items else "list"
                if self.choices:
                    main = f"a {kind} of {_or([_plain(c) for c in self.choices])}"
                else:
                    main = f"a {kind} of {_WORDS[self.item][1]}{self._range()}"
            elif self.choices:
                main = _or([_plain(c) for c in self.choices])
            else:
                main = " or ".join(_WORDS[t][0] for t in types) + self._range()
        if not self.also:
            return main
        if main == "true or false":
            return _or([_plain(a) for a in self.also] + ["true", "false"])
        return _or([_plain(a) for a in self.also] + [main])

    def validate(self, value: Any, key: str) -> None:
        """Raise :class:`ConfigError` naming ``key`` unless :meth:`accepts` ``value``."""
        if not self.accepts(value):
            raise ConfigError(f"{key} must be {self.describe()}, got {show(value)}")


class Section:
    """A mapping of named settings (:class:`Param`), sub-sections and lists of sections (:class:`Each`).

    Args:
        doc: what the section is, for ``docs/config.md``.
        entries: name -> definition, in the order the docs list them.
        fill: write the defaults of its settings into the resolved config (False: the section
            holds only what was given; whatever reads it applies the defaults: the trainer's
            ``frontend``, a study's ``train``).
        whole: a value given for it replaces it whole instead of merging (a study's data entry,
            whose ``corpus`` and ``path`` are alternatives).
        required: the section must be given; ``optional``: absent, it stays absent.
        see: documented elsewhere (the docs say where instead of repeating its table).
    """

    def __init__(
        self,
        doc: str,
        entries: Mapping[str, Param | Section | Each],
        *,
        fill: bool = True,
        whole: bool = False,
        required: bool = False,
        optional: bool = False,
        see: str = "",
    ) -> None:
        self.doc = doc
        self.entries: dict[str, Param | Section | Each] = dict(entries)
        self.fill = fill
        self.whole = whole
        self.required = required
        self.optional = optional
        self.see = see

    def __getitem__(self, name: str) -> Param | Section | Each:
        return self.entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def partial(self, doc: str, see: str) -> Section:
        """The same settings as a section that holds only what is given (``fill=False``)."""
        return Section(doc, self.entries, fill=False, see=see)

    @classmethod
    def from_dataclass(cls, dc: type, doc: str) -> Section:
        """The section of a dataclass whose fields are made with :func:`setting`; each field's
        type is its annotation (``X | None`` also accepts null)."""
        hints = typing.get_type_hints(dc)
        entries: dict[str, Param | Section | Each] = {}
        for f in dataclasses.fields(dc):
            meta = dict(f.metadata.get("param", {}))
            t = hints[f.name]
            also: tuple[Any, ...] = ()
            args = typing.get_args(t)
            if args and type(None) in args:
                rest = tuple(a for a in args if a is not type(None))
                t = rest[0] if len(rest) == 1 else rest
                also = (None,)
            entries[f.name] = Param(f.default, t, also=also, **meta)
        return cls(doc, entries)

    def defaults(self) -> dict[str, Any]:
        """The resolved value of an empty section (every default that is filled in)."""
        return self.complete({})

    def complete(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """Fill in, in place, the defaults that ``cfg`` lacks (at every depth, in list items too)."""
        if not self.fill:
            return cfg
        for name, e in self.entries.items():
            if isinstance(e, Param):
                if name not in cfg and e.fill and not e.required:
                    cfg[name] = copy.deepcopy(e.default)
            elif isinstance(e, Section):
                if cfg.get(name) is None and not e.required and not (e.optional and name not in cfg):
                    cfg[name] = {}
                if isinstance(cfg.get(name), dict):
                    e.complete(cfg[name])
            elif isinstance(cfg.get(name), list):
                for item in cfg[name]:
                    if isinstance(item, dict):
                        e.section.complete(item)
            elif name not in cfg and not e.required:
                cfg[name] = []
        return cfg

    def validate(self, cfg: Any, where: str = "", what: str = "config key") -> None:
        """Check every key of ``cfg`` at every depth (see :func:`check_keys`)."""
        if not isinstance(cfg, Mapping):
            raise ConfigError(
                f"{where or 'the config'} must be a section (a mapping of {', '.join(self.entries)}), got {show(cfg)}"
            )
        for k, v in cfg.items():
            key = f"{where}.{k}" if where else str(k)
            e = self.entries.get(k)
            if e is None:
                raise unknown_key(key, self.entries, what)
            if isinstance(e, Param):
                e.validate(v, key)
            else:
                e.validate(v, key, what)
        for name, e in self.entries.items():
            if e.required and name not in cfg:
                raise ConfigError(f"{where or what.replace(' key', '')} lacks {name!r}")


class Each:
    """A list of sections (a study's ``eval_data``).

    Args:
        section: the definition of each item.
        doc: what the list is.
        required: the list must be given; ``min_items``: its fewest items.
    """

    def __init__(self, section: Section, doc: str, *, required: bool = False, min_items: int = 0) -> None:
        self.section = section
        self.doc = doc
        self.required = required
        self.min_items = min_items

    def validate(self, value: Any, key: str, what: str = "config key") -> None:
        if not isinstance(value, list) or len(value) < self.min_items:
            kind = "a non-empty list" if self.min_items else "a list"
            raise ConfigError(
                f"{key} must be {kind} of sections ({', '.join(self.section.entries)}), got {show(value)}"
            )
        for i, item in enumerate(value):
            self.section.validate(item, f"{key}[{i}]", what)


def setting(default: Any, doc: str, **kwargs: Any) -> Any:
    """A dataclass field that is also a config setting (see :meth:`Section.from_dataclass`):
    ``sample_rate: int = setting(16000, "input sample rate", unit="Hz", min=1)``; ``kwargs`` are
    those of :class:`Param` (its type is the field's annotation)."""
    return dataclasses.field(default=default, metadata={"param": {"doc": doc, **kwargs}})


def check_keys(config: Any, section: Section, where: str = "", what: str = "config key") -> None:
    """Check ``config`` against its definitions: every key at every depth is known (else a
    did-you-mean suggestion), every value of its setting's type and range, every required key
    present. Free-form mappings (``dict`` settings) are not looked into.

    Raises:
        ConfigError: the first problem, naming the dotted key.
    """
    section.validate(config, where, what)


# --------------------------------------------------------------------------- resolution


def merge(base: Mapping[str, Any], update: Mapping[str, Any], section: Section | None = None) -> dict[str, Any]:
    """Merge ``update`` into a copy of ``base``: a mapping into a mapping key by key at every
    depth, anything else replacing what was there; a ``whole`` section of ``section`` (the
    definitions) is replaced whole, and a null section changes nothing. Keys are checked later,
    by :func:`check_keys`."""
    out = copy.deepcopy(dict(base))
    for k, v in update.items():
        e = section.entries.get(k) if section is not None else None
        if isinstance(e, Section) and v is None:
            continue
        if isinstance(out.get(k), dict) and isinstance(v, Mapping) and not (isinstance(e, Section) and e.whole):
            out[k] = merge(out[k], v, e if isinstance(e, Section) else None)
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
        value = yaml_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(
    config: Mapping[str, Any], overrides: Iterable[str], section: Section | None = None, what: str = "config key"
) -> dict[str, Any]:
    """Apply ``key=value`` overrides to a copy of ``config`` (see module docstring); with
    ``section``, each key is checked against the definitions as it is walked (an unknown key
    with a did-you-mean, a key below a setting that is not a mapping)."""
    out = copy.deepcopy(dict(config))
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = out
        defn: Any = section  # the definition of the key walked so far (None: not checked)
        for depth, k in enumerate(keys):
            parent = ".".join(keys[:depth])
            if isinstance(defn, Each):
                raise ConfigError(f"config key {parent!r} is a list: give it whole ({parent}=[...])")
            if isinstance(defn, Param):
                if dict not in (defn.type if isinstance(defn.type, tuple) else (defn.type,)):
                    raise ConfigError(f"config key {parent!r} is not a section")
                defn = None  # a free-form mapping: its keys are not checked here
            if not isinstance(node, dict):
                raise ConfigError(f"config key {parent!r} is not a section")
            if isinstance(defn, Section):
                if k not in defn.entries:
                    raise unknown_key(".".join(keys[: depth + 1]), defn.entries, what)
                defn = defn.entries[k]
            if depth == len(keys) - 1:
                node[k] = value
            else:
                if node.get(k) is None:
                    node[k] = {}
                node = node[k]
    return out


def config_hash(config: Mapping[str, Any], length: int = 12) -> str:
    """Stable hex digest of a JSON-serialisable config (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def require(cond: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``cond``."""
    if not cond:
        raise ConfigError(message)


# --------------------------------------------------------------------------- reference


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default_cell(p: Param) -> str:
    if p.required:
        return "required"
    if p.default is None and not p.fill:
        return "—"
    if isinstance(p.default, float) and p.default == int(p.default) and abs(p.default) < 1e15:
        return f"`{p.default:.1f}`"
    return f"`{_plain(p.default)}`" if p.default != "" else "`''`"


def _section_markdown(section: Section, name: str, level: int) -> list[str]:
    """Tables of ``section`` (its settings) and, after it, of each sub-section."""
    out: list[str] = []
    heading = "#" * level
    params = {k: e for k, e in section.entries.items() if isinstance(e, Param)}
    subs = {k: e for k, e in section.entries.items() if not isinstance(e, Param)}
    out += [f"{heading} `{name}`" if name else f"{heading} Top level", "", _cell(section.doc), ""]
    if section.see:
        return [*out, section.see, ""]
    if not section.fill:
        out += ["Holds only what is given; the defaults below apply where it is read.", ""]
    if params:
        out += ["| key | type | default | unit | description |", "|---|---|---|---|---|"]
        for k, p in params.items():
            out.append(f"| `{k}` | {_cell(p.describe())} | {_default_cell(p)} | {_cell(p.unit)} | {_cell(p.doc)} |")
        out.append("")
    for k, e in subs.items():
        sub = f"{name}.{k}" if name else k
        if isinstance(e, Each):
            item = Section(f"{e.doc} Each item:", e.section.entries, fill=e.section.fill, see=e.section.see)
            out += _section_markdown(item, f"{sub}[]", level + 1 if name else level)
        else:
            out += _section_markdown(e, sub, level + 1 if name else level)
    return out


def reference_markdown() -> str:
    """The text of ``docs/config.md``: one table per section of every config, from the definitions."""
    from .features.logmel import FRONTEND
    from .study.config import STUDY
    from .train.config import TRAIN

    del FRONTEND  # part of TRAIN (its ``frontend`` section); imported to say where it is defined
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from the definitions in the code (tunespace.config.reference_markdown); do not edit.",
        "     Regenerate: python -m tunespace.config --write docs/config.md -->",
        "",
        "Every setting is defined once in the code, with its type, default, unit and description; this page",
        "and the checks are made from those definitions. A config file is YAML; `key=value` arguments set",
        "one dotted key each (`train.steps=500`, `model.projector.out_dim=64`), the value read as YAML",
        "(`1e-3` is a number).",
        "",
        "**Strictness.** An unknown key, at any depth, is refused with the closest known key suggested",
        "(`unknown config key 'train.stepz'; did you mean 'train.steps'?`); a value of the wrong type or",
        "out of range is refused naming its key (`train.batch_size must be an integer >= 2, got true`). A",
        "bool is never an integer or a number; numbers are finite. The command exits with status 2 and one",
        "line on stderr, before any work starts. Settings of type *mapping* (`model.encoder_args`,",
        "`augment.overrides`, a custom `augment.policy`) are free-form: what reads them checks them.",
        "",
        "**One merge rule.** A config is built from layers: the defaults, then a preset (`tunespace study",
        "--preset`), then the file (`--config`), then the `key=value` arguments. A mapping given over a",
        "mapping merges key by key at every depth; anything else (a number, a string, a list) replaces",
        "what was there. A study's `train_data` is replaced whole (its `corpus` and `path` are",
        "alternatives). A `key=value` argument sets that one key: `analysis={ks: [1, 5], headline_k: 5}`",
        "replaces the section, `analysis.ks=[1, 5]` one setting of it.",
        "",
        "The resolved config, written to the run or study folder as `config.json`, is the defaults with",
        "every layer applied; sections marked *holds only what is given* keep just the given keys.",
        "",
        "## Training",
        "",
        "`tunespace train --config FILE key=value ...`; a study's `train` section has the same keys.",
        "Defined in `tunespace.train.config.TRAIN` (the front end in `tunespace.features.FrontEnd`).",
        "",
    ]
    lines += _section_markdown(TRAIN, "", 3)
    lines += [
        "## Study",
        "",
        "`tunespace study --preset NAME --config FILE key=value ...`; the presets are",
        "`src/tunespace/configs/study-*.yaml`. Defined in `tunespace.study.config.STUDY`. The measures the",
        "analysis reports are defined in [metrics.md](metrics.md).",
        "",
    ]
    lines += _section_markdown(STUDY, "", 3)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def _main(argv: list[str]) -> int:
    """``python -m tunespace.config [--write PATH | --check PATH]``: print, write or check the reference."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tunespace.config", description=_main.__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="PATH", help="write the reference to PATH (docs/config.md)")
    group.add_argument("--check", metavar="PATH", help="exit 1 when PATH differs from the generated reference")
    args = parser.parse_args(argv)
    text = reference_markdown()
    if args.write:
        from .files import write_text

        write_text(args.write, text)
    elif args.check:
        current = Path(args.check).read_text(encoding="utf-8") if Path(args.check).is_file() else ""
        if current != text:
            print(f"{args.check} is stale: python -m tunespace.config --write {args.check}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # run as tunespace.config, not __main__: the definitions are of its classes
    from tunespace.config import _main as main

    raise SystemExit(main(sys.argv[1:]))
