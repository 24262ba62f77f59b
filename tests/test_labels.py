import numpy as np
import pytest

from tunespace.embed.format import EmbeddingSet
from tunespace.errors import ConfigError, UsageError
from tunespace.labels import join, load_labels, parse_properties

CSV = """track_id,path,duration_s,key,tempo_bpm,genre,arousal,mode_key,tags
a,x.flac,20,F# minor,120,rock,0.5,Am,x;y
b,y.flac,20,Gb major,90.5,jazz,,C major,
c,z.flac,20,,100,,-1,d minor,y
"""


@pytest.fixture()
def csv_path(tmp_path):
    p = tmp_path / "tracks.csv"
    p.write_text(CSV)
    return p


def test_kinds_inferred_and_values(csv_path):
    t = load_labels(csv_path, properties=None, kinds={"tags": "tags"})
    assert t.kinds == {
        "key": "key",
        "tempo_bpm": "tempo",
        "genre": "categorical",
        "arousal": "continuous",
        "mode_key": "key",
        "tags": "tags",
    }
    assert list(t.values["key"]) == ["F# minor", "F# major", None]
    assert list(t.values["mode_key"]) == ["A minor", "C major", "D minor"]
    np.testing.assert_array_equal(t.known("arousal"), [True, False, True])
    assert t.values["tags"][0] == ("x", "y") and t.values["tags"][1] is None
    assert "path" not in t.values and "duration_s" not in t.values


def test_declared_kinds(csv_path):
    names, kinds = parse_properties("genre,arousal:categorical,tempo_bpm:tempo")
    assert names == ["genre", "arousal", "tempo_bpm"] and kinds == {"arousal": "categorical", "tempo_bpm": "tempo"}
    t = load_labels(csv_path, properties="genre,arousal:categorical")
    assert t.kinds == {"genre": "categorical", "arousal": "categorical"}
    with pytest.raises(ConfigError, match="unknown kind"):
        parse_properties("genre:colour")
    with pytest.raises(UsageError, match="no column 'bpm'"):
        load_labels(csv_path, properties="bpm")
    with pytest.raises(ConfigError, match="not a number"):
        load_labels(csv_path, properties="genre:tempo")


def test_join_reports_missing_on_both_sides(csv_path):
    t = load_labels(csv_path, properties="genre")
    emb = EmbeddingSet(ids=["c", "zz", "a"], vectors=np.eye(3, dtype=np.float32))
    rows, aligned, rep = join(emb, t)
    np.testing.assert_array_equal(rows, [0, 2])
    assert aligned.ids == ["c", "a"] and list(aligned.values["genre"]) == [None, "rock"]
    assert (rep.n_joined, rep.missing_labels, rep.missing_embeddings) == (2, 1, 1)
    assert rep.missing_labels_first == ["zz"] and rep.missing_embeddings_first == ["b"]
    assert "zz" in rep.summary() and "b" in rep.summary()
    with pytest.raises(UsageError, match="no embedding id"):
        join(EmbeddingSet(ids=["q"], vectors=np.ones((1, 2), np.float32)), t)


def test_duplicate_ids_and_missing_id_column(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("track_id,genre\na,x\na,y\n")
    with pytest.raises(UsageError, match="not unique"):
        load_labels(p)
    with pytest.raises(UsageError, match="no id column 'id'"):
        load_labels(p, id_column="id")
