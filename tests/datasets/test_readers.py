"""Tests of the dataset readers on tiny fixtures that copy each published layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunespace.cli import main
from tunespace.datasets import (
    detect_kind,
    open_dataset,
    read_csv,
    read_giantsteps,
    read_gtzan,
    read_magnatagatune,
    read_mtg_jamendo,
    read_tunespace,
    summarise_dataset,
)
from tunespace.errors import DatasetError


def _touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- tunespace corpus


def _corpus(root: Path) -> Path:
    _touch(root / "corpus.json", '{"seed": 0}')
    rows = [
        "track_id,path,duration_s,key,tempo_bpm,genre,mood,instrument,source,seed,arousal,era",
        "t002,audio/t002.flac,30.0,Gb major,120.5,rock,happy,guitar,procedural,2,0.5,80s",
        "t001,audio/t001.flac,29.5,f#:min,90,jazz,sad,piano,music21,1,-0.25,",
        "t010,audio/t010.flac,30.0,,,jazz,,piano,procedural,10,,90s",
    ]
    _touch(root / "tracks.csv", "\n".join(rows) + "\n")
    return root


def test_tunespace_corpus(tmp_path):
    ds = read_tunespace(_corpus(tmp_path))
    assert ds.ids == ["t001", "t002", "t010"]
    assert ds.kinds == {
        "key": "key",
        "tempo_bpm": "tempo",
        "genre": "categorical",
        "mood": "categorical",
        "instrument": "categorical",
        "arousal": "continuous",
        "era": "categorical",
    }
    t1, t2, t10 = ds.tracks
    assert t1.labels["key"] == "F# minor" and t2.labels["key"] == "F# major"
    assert t2.labels["tempo_bpm"] == 120.5 and t1.labels["arousal"] == -0.25
    assert "key" not in t10.labels and "mood" not in t10.labels and "era" not in t1.labels
    assert t1.path == (tmp_path / "audio" / "t001.flac").resolve() and t1.duration_s == 29.5
    assert ds.vocabularies["genre"] == ["jazz", "rock"] and ds.vocabularies["era"] == ["80s", "90s"]
    for not_label in ("path", "source", "seed", "duration_s", "track_id"):
        assert not_label not in ds.kinds


def test_tunespace_corpus_errors(tmp_path):
    with pytest.raises(DatasetError, match="tracks.csv"):
        read_tunespace(tmp_path)
    _corpus(tmp_path)
    (tmp_path / "tracks.csv").write_text("track_id,path\nt1,a.flac\n")
    with pytest.raises(DatasetError, match="missing columns"):
        read_tunespace(tmp_path)
    _corpus(tmp_path)
    text = (tmp_path / "tracks.csv").read_text().replace("Gb major", "H major")
    (tmp_path / "tracks.csv").write_text(text)
    with pytest.raises(DatasetError, match="line 2: bad key"):
        read_tunespace(tmp_path)


# ----------------------------------------------------------------------------- csv folder


def test_csv_folder_by_stem(tmp_path):
    for name in ("b.wav", "sub/a.flac", "c.mp3", "orphan.wav"):
        _touch(tmp_path / name)
    _touch(
        tmp_path / "labels.csv",
        "id,genre,valence,key,moods\nb,rock,0.5,Am,happy;calm\na,pop,0.1,C,\nc,pop,,,sad\nzz,rock,1,,\n",
    )
    ds = read_csv(tmp_path, columns={"genre": "categorical", "valence": "continuous", "key": "key", "moods": "tags"})
    assert ds.ids == ["a", "b", "c"]
    b = ds.by_id()["b"]
    assert b.labels == {"genre": "rock", "valence": 0.5, "key": "A minor", "moods": ["calm", "happy"]}
    assert ds.by_id()["a"].path == (tmp_path / "sub" / "a.flac").resolve()
    assert ds.vocabularies["moods"] == ["calm", "happy", "sad"]
    assert any("zz" in p for p in ds.problems) and any("orphan.wav" in p for p in ds.problems)
    assert len(ds.problems) == 2
    # inferred kinds
    ds2 = read_csv(tmp_path, csv="labels.csv", id_column="id")
    # one rule with tunespace.labels: a column named key is a key, tempo/bpm a tempo
    assert ds2.kinds == {"genre": "categorical", "valence": "continuous", "key": "key", "moods": "categorical"}


def test_csv_folder_with_path_column(tmp_path):
    _touch(tmp_path / "x" / "one.wav")
    _touch(tmp_path / "meta.csv", "file,name,tempo\nx/one.wav,first,100\nx/two.wav,second,120\n")
    ds = read_csv(tmp_path, id_column="name", path_column="file", columns={"tempo": "tempo"})
    assert ds.ids == ["first"] and ds[0].labels == {"tempo": 100.0}
    assert len(ds.problems) == 1 and "two.wav" in ds.problems[0]


def test_csv_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"\*\.csv"):
        read_csv(tmp_path)
    _touch(tmp_path / "a.wav")
    _touch(tmp_path / "l.csv", "id,genre\na,rock\na,pop\n")
    with pytest.raises(DatasetError, match="duplicate id"):
        read_csv(tmp_path)
    with pytest.raises(DatasetError, match="not a column"):
        read_csv(tmp_path, columns=["nope"])
    with pytest.raises(DatasetError, match="unknown kind"):
        read_csv(tmp_path, columns={"genre": "colour"})


# ----------------------------------------------------------------------------- GTZAN


def _gtzan(root: Path) -> Path:
    for genre in ("jazz", "blues"):
        for i in (1, 0, 54):
            _touch(root / "genres_original" / genre / f"{genre}.{i:05d}.wav")
    _touch(root / "genres_original" / "jazz" / ".DS_Store")
    _touch(root / "features_30_sec.csv", "filename,length\n")
    return root


def test_gtzan(tmp_path):
    ds = read_gtzan(_gtzan(tmp_path))
    assert ds.ids == ["blues.00000", "blues.00001", "blues.00054", "jazz.00000", "jazz.00001", "jazz.00054"]
    assert ds.kinds == {"genre": "categorical"} and ds.vocabularies["genre"] == ["blues", "jazz"]
    assert ds.by_id()["jazz.00054"].labels == {"genre": "jazz"}
    assert ds.by_id()["jazz.00054"].path.name == "jazz.00054.wav"
    with pytest.raises(DatasetError, match="genres_original"):
        read_gtzan(tmp_path / "genres_original" / "jazz")


# ----------------------------------------------------------------------------- GiantSteps


def test_giantsteps_key_and_tempo(tmp_path):
    for tid in ("10089", "3", "200"):
        _touch(tmp_path / "audio" / f"{tid}.LOFI.mp3")
    _touch(tmp_path / "annotations" / "key" / "10089.LOFI.key", "Eb minor")
    _touch(tmp_path / "annotations" / "key" / "3.LOFI.key", "E minor\n")
    _touch(tmp_path / "annotations" / "key" / "200.LOFI.key", "-")
    _touch(tmp_path / "annotations" / "key" / "999.LOFI.key", "C major")
    _touch(tmp_path / "annotations" / "tempo" / "3.LOFI.bpm", "128.0\n")
    ds = read_giantsteps(tmp_path)
    assert ds.ids == ["3", "200", "10089"]
    assert ds.kinds == {"key": "key", "tempo_bpm": "tempo"}
    assert ds.by_id()["10089"].labels == {"key": "D# minor"}
    assert ds.by_id()["3"].labels == {"key": "E minor", "tempo_bpm": 128.0}
    assert ds.by_id()["200"].labels == {}
    assert len(ds.problems) == 2 and any("200.LOFI.key" in p for p in ds.problems)
    assert any("999" in p for p in ds.problems)


def test_giantsteps_tempo_only_and_errors(tmp_path):
    _touch(tmp_path / "audio" / "5.LOFI.mp3")
    with pytest.raises(DatasetError, match="annotations/key"):
        read_giantsteps(tmp_path)
    _touch(tmp_path / "annotations" / "tempo" / "5.LOFI.bpm", "87.5")
    ds = read_giantsteps(tmp_path)
    assert ds.kinds == {"tempo_bpm": "tempo"} and ds[0].labels == {"tempo_bpm": 87.5}


# ----------------------------------------------------------------------------- MTG-Jamendo

_MTG_HEADER = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n"


def _mtg(root: Path) -> Path:
    rows = [
        "track_0000214\tartist_000014\talbum_000031\t14/214.mp3\t124.6\tgenre---punkrock",
        "track_0000015\tartist_000005\talbum_000002\t15/15.mp3\t212.7\tgenre---rock\tmood/theme---happy\tinstrument---guitar\tinstrument---voice",
        "track_0000243\tartist_000014\talbum_000031\t43/243.mp3\t249.1\tmood/theme---sad",
    ]
    _touch(root / "data" / "autotagging.tsv", _MTG_HEADER + "\n".join(rows) + "\n")
    _touch(
        root / "data" / "autotagging_moodtheme.tsv",
        _MTG_HEADER + rows[1].split("\tinstrument")[0].replace("genre---rock\t", "") + "\n" + rows[2] + "\n",
    )
    split = root / "data" / "splits" / "split-0"
    _touch(split / "autotagging-train.tsv", _MTG_HEADER + rows[0] + "\n" + rows[1] + "\n")
    _touch(split / "autotagging-validation.tsv", _MTG_HEADER)
    _touch(split / "autotagging-test.tsv", _MTG_HEADER + rows[2] + "\n")
    _touch(root / "audio" / "15" / "15.mp3")
    _touch(root / "audio" / "14" / "214.low.mp3")
    return root


def test_mtg_jamendo(tmp_path):
    ds = read_mtg_jamendo(_mtg(tmp_path))
    assert ds.ids == ["track_0000015", "track_0000214", "track_0000243"]
    assert ds.kinds == {"genre": "tags", "mood": "tags", "instrument": "tags", "tags": "tags"}
    t15 = ds.by_id()["track_0000015"]
    assert t15.labels["genre"] == ["rock"] and t15.labels["mood"] == ["happy"]
    assert t15.labels["instrument"] == ["guitar", "voice"]
    assert t15.labels["tags"] == ["genre---rock", "instrument---guitar", "instrument---voice", "mood/theme---happy"]
    assert t15.duration_s == 212.7 and t15.path == (tmp_path / "audio" / "15" / "15.mp3").resolve()
    assert ds.by_id()["track_0000214"].path.name == "214.low.mp3"
    assert ds.by_id()["track_0000243"].labels["genre"] == []
    assert ds.splits == {"track_0000214": "train", "track_0000015": "train", "track_0000243": "test"}
    assert len(ds.problems) == 1 and "1 of 3 audio files" in ds.problems[0]
    mood = read_mtg_jamendo(tmp_path, subset="moodtheme")
    assert mood.kinds == {"mood": "tags", "tags": "tags"} and mood.vocabularies["mood"] == ["happy", "sad"]
    with pytest.raises(DatasetError, match="autotagging_instrument.tsv"):
        read_mtg_jamendo(tmp_path, subset="instrument")


def test_mtg_jamendo_errors(tmp_path):
    with pytest.raises(DatasetError, match="autotagging"):
        read_mtg_jamendo(tmp_path)
    _touch(tmp_path / "autotagging.tsv", "a,b,c\n")
    with pytest.raises(DatasetError, match="header"):
        read_mtg_jamendo(tmp_path)
    _touch(tmp_path / "autotagging.tsv", _MTG_HEADER + "track_1\ta\tb\t1/1.mp3\t10\tcolour---red\n")
    with pytest.raises(DatasetError, match="line 2"):
        read_mtg_jamendo(tmp_path)


# ----------------------------------------------------------------------------- MagnaTagATune


def _mtat(root: Path, n_tags: int = 60) -> Path:
    tags = [f"tag{i:02d}" for i in range(n_tags)]
    header = ["clip_id", *tags, "mp3_path"]
    lines = ["\t".join(f'"{h}"' for h in header)]
    # clip k has tags tag00..tag(k-1): tag i occurs in (n_clips - i - 1) clips
    for k, cid in enumerate([2, 6, 10, 1000, 35644][::-1]):
        values = ["1" if i < k * 14 else "0" for i in range(n_tags)]
        lines.append("\t".join(f'"{v}"' for v in [str(cid), *values, f"f/artist-album-{cid}-0-29.mp3"]))
    _touch(root / "annotations_final.csv", "\n".join(lines) + "\n")
    _touch(root / "f" / "artist-album-2-0-29.mp3")
    return root


def test_magnatagatune(tmp_path):
    ds = read_magnatagatune(_mtat(tmp_path))
    assert ds.ids == ["2", "6", "10", "1000", "35644"]  # numeric order
    assert ds.kinds == {"tags": "tags"}
    assert ds.vocabularies["tags"] == [f"tag{i:02d}" for i in range(50)]
    by = ds.by_id()
    assert by["35644"].labels["tags"] == []
    assert by["2"].labels["tags"] == [f"tag{i:02d}" for i in range(50)]  # 56 tags, 6 rarer ones dropped
    assert by["6"].labels["tags"] == [f"tag{i:02d}" for i in range(42)]
    assert by["2"].path == (tmp_path / "f" / "artist-album-2-0-29.mp3").resolve()
    assert "4 of 5 audio files" in ds.problems[0]
    assert read_magnatagatune(tmp_path, top_n=None).vocabularies["tags"] == [f"tag{i:02d}" for i in range(60)]
    assert len(read_magnatagatune(tmp_path, top_n=10).vocabularies["tags"]) == 10


def test_magnatagatune_errors(tmp_path):
    with pytest.raises(DatasetError, match="annotations_final.csv"):
        read_magnatagatune(tmp_path)
    _touch(tmp_path / "annotations_final.csv", "clip_id,guitar,mp3_path\n2,1,f/a.mp3\n")
    with pytest.raises(DatasetError, match="tab-separated"):
        read_magnatagatune(tmp_path)
    _touch(tmp_path / "annotations_final.csv", "clip_id\tguitar\tmp3_path\n2\tyes\tf/a.mp3\n")
    with pytest.raises(DatasetError, match="not 0 or 1"):
        read_magnatagatune(tmp_path)


# ----------------------------------------------------------------------------- open_dataset, CLI


def test_open_dataset_detects_each_layout(tmp_path):
    makers = {
        "tunespace": _corpus,
        "gtzan": _gtzan,
        "mtg_jamendo": _mtg,
        "magnatagatune": _mtat,
    }
    for kind, make in makers.items():
        root = make(tmp_path / kind)
        assert detect_kind(root) == kind
        ds = open_dataset(root)
        assert ds.name == kind and len(ds) > 0
    gs = tmp_path / "gs"
    _touch(gs / "audio" / "1.LOFI.mp3")
    _touch(gs / "annotations" / "key" / "1.LOFI.key", "A major")
    assert open_dataset(gs).name == "giantsteps"
    folder = tmp_path / "folder"
    _touch(folder / "x.wav")
    _touch(folder / "labels.csv", "id,genre\nx,rock\n")
    assert open_dataset(folder).name == "csv"
    assert open_dataset(tmp_path / "magnatagatune", kind="magnatagatune", top_n=5).vocabularies["tags"] == [
        f"tag{i:02d}" for i in range(5)
    ]


def test_open_dataset_errors(tmp_path):
    _touch(tmp_path / "readme.txt", "hello")
    with pytest.raises(DatasetError) as e:
        open_dataset(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "genres_original" in msg and "tracks.csv" in msg and "annotations_final.csv" in msg
    with pytest.raises(DatasetError, match="unknown dataset kind"):
        open_dataset(tmp_path, kind="nsynth")
    with pytest.raises(DatasetError, match="no such folder or file"):
        open_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="genres_original"):
        open_dataset(tmp_path, kind="gtzan")
    with pytest.raises(DatasetError, match="unexpected keyword"):
        open_dataset(_gtzan(tmp_path / "g"), kind="gtzan", top_n=3)


def test_summary_and_cli(tmp_path, capsys):
    root = _mtg(tmp_path / "mtg")
    text = summarise_dataset(open_dataset(root))
    assert "reader: mtg_jamendo" in text and "tracks: 3" in text
    assert "genre" in text and "splits: test 1, train 2" in text and "problems: 1" in text
    assert main(["datasets", "show", str(_corpus(tmp_path / "c"))]) == 0
    out = capsys.readouterr().out
    assert "reader: tunespace" in out and "tracks: 3" in out
    assert "key  " in out and "2 labels" in out and "range 90-120.5" in out
    assert main(["datasets", "show", str(tmp_path / "c"), "--kind", "gtzan"]) == 2
    assert "genres_original" in capsys.readouterr().err
