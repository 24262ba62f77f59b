"""Pretrained models: export, weights-only loading, ``pretrained:NAME`` everywhere, the recipe's split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tunespace
from tunespace import pretrained
from tunespace.cli import main
from tunespace.errors import UsageError
from tunespace.pretrained.recipe import EVAL_ONE_IN, piece_split


def test_export_and_load_round_trip(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "FOLDER", tmp_path)
    path = pretrained.export(tiny_run, "mine", tmp_path, {"policy": "none"})
    assert path == tmp_path / "mine.pt" and pretrained.available() == ["mine"]
    state = torch.load(path, weights_only=True)
    assert "optimizer" not in state and all(not k.startswith("projector") for k in state["encoder"])
    m = tunespace.load_model("pretrained:mine")
    ref = tunespace.load_model(tiny_run)
    x = np.random.default_rng(0).standard_normal(16000 * 4).astype(np.float32) * 0.1
    np.testing.assert_allclose(m.embed(x, 16000), ref.embed(x, 16000), rtol=1e-5, atol=1e-6)
    assert m.meta["kind"] == "pretrained" and m.meta["card"]["policy"] == "none"


def test_unknown_or_foreign_files_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "FOLDER", tmp_path)
    with pytest.raises(UsageError, match="no pretrained model 'ts'.*none installed"):
        tunespace.load_model("pretrained:ts")
    torch.save({"model": {}, "config": {}}, tmp_path / "odd.pt")
    with pytest.raises(UsageError, match="not a tunespace pretrained model"):
        tunespace.load_model("pretrained:odd")
    with pytest.raises(UsageError):
        pretrained.path_of("../odd")
    with pytest.raises(UsageError, match="no pretrained model 'ts\\+ps\\+eq'.*replaced by ts\\+ps\\+eq\\+rev"):
        tunespace.load_model("pretrained:ts+ps+eq")  # shipped by the sixth release


def test_embed_cli_accepts_a_pretrained_model(tiny_run, train_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "FOLDER", tmp_path / "models")
    pretrained.export(tiny_run, "ts", tmp_path / "models")
    assert (
        main(
            [
                "embed",
                "--model",
                "pretrained:ts",
                "--data",
                str(train_corpus),
                "--out",
                str(tmp_path / "emb"),
                "--workers",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    assert main(["index", "build", "--embeddings", str(tmp_path / "emb"), "--out", str(tmp_path / "idx")]) == 0
    assert tunespace.Index.load(tmp_path / "idx").model_path == "pretrained:ts"
    assert main(["pretrained", "list"]) == 0
    assert "pretrained:ts" in capsys.readouterr().out


def test_piece_split_is_stable_and_about_one_in_five():
    pieces = [f"ryansMammoth/tune{i}.abc" for i in range(2000)]
    share = np.mean([piece_split(p) == "eval" for p in pieces])
    assert abs(share - 1 / EVAL_ONE_IN) < 0.03
    assert piece_split("bach/bwv66.6.mxl") == piece_split("bach/bwv66.6.mxl")


@pytest.mark.parametrize("name", pretrained.available())
def test_each_shipped_model_loads_and_embeds(name):
    m = tunespace.load_model(f"pretrained:{name}")
    x = np.random.default_rng(0).standard_normal(16000 * 5).astype(np.float32) * 0.1
    v = m.embed(x, 16000)
    assert v.shape == (m.dim,) and np.isfinite(v).all() and np.linalg.norm(v) > 0


def test_the_package_ships_one_model_per_recipe_policy():
    from tunespace.pretrained.recipe import POLICIES

    assert sorted(pretrained.available()) == sorted(POLICIES)
    for name in POLICIES:
        card = pretrained.load_state(name).get("card", {})
        assert card.get("policy") == name


def test_the_recipe_trains_each_shipped_model_with_the_settings_stored_in_it():
    """The recipe's resolved trainer config of each policy (seed 0, the shipped one) is the one
    stored in the file, but for the keys added since (their earlier behaviour) and the front end's
    ``mel_product``: the files predate it, and ``dense`` is the product they were trained with
    (a rebuild gives their weights bit for bit: docs/models.md)."""
    from pathlib import Path

    from tunespace.pretrained.recipe import POLICIES, study_config
    from tunespace.study.runner import train_config
    from tunespace.train.config import fill_later_keys

    cfg = study_config(Path("data"))
    for name in POLICIES:
        stored = fill_later_keys(pretrained.load_state(name)["config"])
        want = train_config(cfg, name, 0, Path(stored["data"]["path"]))
        assert stored["frontend"] == {} and want["frontend"] == {"mel_product": "dense"}
        assert {**stored, "frontend": want["frontend"]} == want, name


def test_shipped_models_embed_with_the_slices_their_card_was_measured_with():
    """A user's ``load_model("pretrained:X")`` / ``tunespace embed`` cuts the slices the build's
    study embedded its evaluation sets with (the card's figures), which are the training excerpts."""
    from pathlib import Path

    from tunespace.pretrained.recipe import POLICIES, study_config

    measured = study_config(Path("data"))["embed"]["slice_seconds"]
    for name in POLICIES:
        m = tunespace.load_model(f"pretrained:{name}")
        assert m.slice_seconds == measured == pretrained.load_state(name)["config"]["pairs"]["excerpt_seconds"]


def test_build_refuses_zero_workers_in_one_line(tmp_path, capsys):
    from tunespace.cli import main

    assert main(["pretrained", "build", "--out", str(tmp_path / "p"), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--workers must be >= 1, got 0" in err
    assert not (tmp_path / "p").exists()  # refused before anything was written


def _fake_corpus(out, tracks=200, seconds=30.0, seed=0, source="procedural", **_):
    """A corpus folder shaped like ``build_corpus``'s (empty audio files: nothing reads them here)."""
    import csv
    import json
    from pathlib import Path

    from tunespace.corpus.plan import csv_columns

    out = Path(out)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(tracks):
        path = f"audio/t{i:04d}.flac"
        (out / path).write_bytes(b"")
        piece = f"composer/piece{(i * 7 + seed) % 40}.abc" if source == "music21" else ""
        rows.append([f"t{i:04d}", path, seconds, "C major", 100, "jig", "calm", "oboe", source, seed, piece])
    with open(out / "tracks.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(csv_columns("music21"))
        w.writerows(rows)
    (out / "corpus.json").write_text(json.dumps({"seed": seed, "source": source}), encoding="utf-8")
    return out


def test_recipe_data_keeps_every_evaluation_piece_out_of_training(tmp_path, monkeypatch):
    import tunespace.corpus
    from tunespace.datasets import open_dataset
    from tunespace.pretrained.recipe import TRAIN_MUSIC21, build_data, study_config, track_pieces
    from tunespace.study.config import validate_study_config

    monkeypatch.setattr(tunespace.corpus, "build_corpus", _fake_corpus)
    data = build_data(tmp_path, procedural_tracks=12, music21_tracks=60, eval_renders=40)
    lines = {p for p in (data / "train.txt").read_text().splitlines() if p and not p.startswith("#")}
    used, trained = set(), set()
    for name in ("procedural", *TRAIN_MUSIC21):
        piece = track_pieces(data / name)
        for t in open_dataset(data / name).tracks:
            if str(t.path) in lines:
                used.add(name)
                trained |= {piece[t.id]} if piece else set()
    assert used == {"procedural", *TRAIN_MUSIC21}  # every training corpus contributes
    assert trained and all(piece_split(p) == "train" for p in trained)
    cfg = study_config(data)
    validate_study_config(cfg)
    assert [d["name"] for d in cfg["eval_data"] if d["role"] == "confirmatory"] == ["music21-release7"]
    for d in cfg["eval_data"]:
        held_out = set(track_pieces(d["path"]).values())
        assert (d["name"].startswith("procedural")) or held_out, d["name"]
        assert not held_out & trained, d["name"]
        assert all(piece_split(p) == "eval" for p in held_out)


def test_build_pins_one_torch_thread_per_stage_whatever_the_workers(tmp_path, monkeypatch):
    from tunespace.pretrained import recipe
    from tunespace.study import runner

    seen = {}

    class _Stop(Exception):
        pass

    def fake_run_study(out, cfg):
        seen["cfg"] = cfg
        raise _Stop

    monkeypatch.setattr(recipe, "build_data", lambda out, *a: tmp_path / "data")
    monkeypatch.setattr(runner, "run_study", fake_run_study)
    for workers in (1, 3):
        with pytest.raises(_Stop):
            recipe.build_pretrained(tmp_path / "p", workers=workers)
        assert seen["cfg"]["launcher"] == {"kind": "local", "workers": workers, "threads": 1}
        assert seen["cfg"]["train"]["train"]["threads"] == 1
