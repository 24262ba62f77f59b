"""``tunespace index build`` and ``tunespace neighbours``, end to end on a folder of audio."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from tunespace.audio import load, save
from tunespace.cli import main
from tunespace.datasets import open_dataset


@pytest.fixture(scope="module")
def catalogue(tiny_run, train_corpus, tmp_path_factory):
    """The corpus audio as a plain folder (no CSV), embedded and indexed with the tiny model."""
    root = tmp_path_factory.mktemp("cat")
    music = root / "music"
    music.mkdir()
    for t in open_dataset(train_corpus).tracks:  # OGG/Vorbis, as users' folders often are
        sf.write(music / f"{t.id}.ogg", load(t.path, sr=16000), 16000, format="OGG", subtype="VORBIS")
    assert (
        main(
            [
                "embed",
                "--model",
                str(tiny_run),
                "--data",
                str(music),
                "--out",
                str(root / "emb"),
                "--workers",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    assert main(["index", "build", "--embeddings", str(root / "emb"), "--out", str(root / "idx")]) == 0
    return root


def test_query_by_track_prints_a_table(catalogue, capsys):
    ids = (catalogue / "emb" / "ids.txt").read_text().split()
    capsys.readouterr()
    assert main(["neighbours", str(catalogue / "idx"), "--track", ids[0], "--k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["rank", "id", "similarity"] and len(lines) == 4
    assert ids[0] not in {line.split()[1] for line in lines[1:]}


def test_query_by_excerpt_finds_its_own_track_first(catalogue, tmp_path, capsys):
    ids = (catalogue / "emb" / "ids.txt").read_text().split()
    found = 0
    for tid in ids[:6]:
        x = load(catalogue / "music" / f"{tid}.ogg", sr=16000)
        save(tmp_path / "q.wav", x[16000 * 2 : 16000 * 8], 16000)  # a 6 s excerpt
        capsys.readouterr()
        assert (
            main(["neighbours", str(catalogue / "idx"), "--audio", str(tmp_path / "q.wav"), "--k", "2", "--json"]) == 0
        )
        out = json.loads(capsys.readouterr().out)
        found += out["neighbours"][0]["id"] == tid
    assert found >= 5


def test_a_silent_query_is_answered_with_a_warning(catalogue, tmp_path, capsys):
    """Silence has neighbours like any vector; the user is told they mean nothing (one line on
    stderr), and a quiet but audible excerpt is not flagged."""
    import numpy as np

    save(tmp_path / "silent.wav", np.zeros(16000 * 5, np.float32), 16000)
    capsys.readouterr()
    assert main(["neighbours", str(catalogue / "idx"), "--audio", str(tmp_path / "silent.wav"), "--k", "2"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tunespace neighbours: warning: ") and "silent.wav: silent" in err[0]
    tid = (catalogue / "emb" / "ids.txt").read_text().split()[0]
    save(tmp_path / "quiet.wav", 0.01 * load(catalogue / "music" / f"{tid}.ogg", sr=16000), 16000)  # -40 dB
    assert main(["neighbours", str(catalogue / "idx"), "--audio", str(tmp_path / "quiet.wav"), "--k", "2"]) == 0
    assert "silent" not in capsys.readouterr().err


def test_k_larger_than_catalogue_and_errors(catalogue, capsys):
    ids = (catalogue / "emb" / "ids.txt").read_text().split()
    capsys.readouterr()
    assert main(["neighbours", str(catalogue / "idx"), "--track", ids[0], "--k", "100", "--json"]) == 0
    cap = capsys.readouterr()
    assert len(json.loads(cap.out)["neighbours"]) == len(ids) - 1 and "warning" in cap.err
    assert main(["neighbours", str(catalogue / "idx"), "--track", "nope"]) == 2
    assert capsys.readouterr().err.strip() == "tunespace neighbours: error: unknown id 'nope'"
    assert main(["neighbours", str(catalogue / "idx"), "--audio", str(catalogue / "nothing.wav")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["neighbours", str(catalogue), "--track", ids[0]]) == 2
    assert "not an index folder" in capsys.readouterr().err
    assert (
        main(["index", "build", "--embeddings", str(catalogue / "emb"), "--out", str(catalogue / "x"), "--nprobe", "0"])
        == 2
    )
