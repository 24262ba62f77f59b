"""Pretrained models shipped inside the package: ``load_model("pretrained:ts")``,
``tunespace embed --model pretrained:ts``, anywhere a model is accepted.

Each model is a file ``<name>.pt`` in this folder: a dict of tensors and plain values only,
loaded with ``torch.load(weights_only=True)``::

    {"format": "tunespace-pretrained", "version": 1, "name": str,
     "encoder": state_dict, "config": the resolved training config, "card": {...}}

``card`` records how it was made (training data, policy, steps, seed, command). The models,
the command that trains them and their locality profile and retrieval figures are described
in ``docs/models.md``. Nothing is downloaded: the files are package data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import UsageError
from ..features.logmel import input_bands

FOLDER = Path(__file__).parent
FORMAT = "tunespace-pretrained"
VERSION = 1
PREFIX = "pretrained:"
#: Models an earlier release shipped and a later one replaced: name -> what to use instead.
RETIRED = {
    "ts+ps+eq": "ts+ps+eq+rev, which adds reverberation to the nuisances (docs/models.md); an index "
    "built with ts+ps+eq must be embedded again to be queried with it",
}


def available() -> list[str]:
    """Names of the pretrained models installed with this package (sorted)."""
    return sorted(p.stem for p in FOLDER.glob("*.pt"))


def path_of(name: str) -> Path:
    """The file of pretrained model ``name`` (``"ts"`` or ``"pretrained:ts"``).

    Raises:
        UsageError: no such model (the message lists those available).
    """
    name = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    p = FOLDER / f"{name}.pt"
    if not name or "/" in name or not p.is_file():
        have = ", ".join(available()) or "none installed"
        instead = f"; it was replaced by {RETIRED[name]}" if name in RETIRED else ""
        raise UsageError(f"no pretrained model {name!r} (available: {have}){instead}")
    return p


def load_state(name: str) -> dict[str, Any]:
    """The stored dict of pretrained model ``name`` (weights-only load, format checked)."""
    p = path_of(name)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
        raise UsageError(f"{p}: not a readable pretrained model ({type(e).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "encoder" not in state or "config" not in state:
        raise UsageError(f"{p}: not a tunespace pretrained model")
    if int(state.get("version", 0)) > VERSION:
        raise UsageError(f"{p}: pretrained format version {state.get('version')}; this tunespace reads up to {VERSION}")
    return state


def load_bundle(name: str, device: torch.device | str = "cpu") -> Any:
    """An :class:`~tunespace.embed.extract.EncoderBundle` of pretrained model ``name`` (eval mode)."""
    from ..embed.extract import EncoderBundle
    from ..models import build_encoder

    state = load_state(name)
    cfg = state["config"]
    m = cfg["model"]
    enc = build_encoder(m["encoder"], n_mels=input_bands(cfg.get("frontend")), **m.get("encoder_args", {}))
    enc.load_state_dict(state["encoder"])
    meta = {
        "kind": "pretrained",
        "name": state["name"],
        "checkpoint": f"{PREFIX}{state['name']}",
        "encoder": m["encoder"],
        "augment": cfg.get("augment"),
        "seed": cfg.get("seed"),
        "card": state.get("card", {}),
        "train_config": cfg,
    }
    return EncoderBundle(enc.to(device).eval(), dict(cfg.get("frontend", {})), meta)


def export(run: str | Path, name: str, out_dir: str | Path = FOLDER, card: dict[str, Any] | None = None) -> Path:
    """Write the encoder of a run folder (or checkpoint) as pretrained model ``name`` in ``out_dir``.

    Only the encoder weights and the training config are kept (no projector, no optimiser).
    """
    from ..files import atomic_path
    from ..models.checkpoint import load_checkpoint, resolve_checkpoint

    if not name.replace("+", "").replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"pretrained model name {name!r}: use letters, digits, '+', '-' or '_'")
    ckpt = resolve_checkpoint(run)
    state = load_checkpoint(ckpt)
    enc = {k[len("encoder.") :]: v.clone() for k, v in state["model"].items() if k.startswith("encoder.")}
    out = Path(out_dir) / f"{name}.pt"
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "encoder": enc,
        "config": state["config"],
        "card": {"step": int(state["step"]), **(card or {})},
    }
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)
    return out
