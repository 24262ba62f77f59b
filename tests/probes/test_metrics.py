import mir_eval
import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from tunespace.keys import KEY_NAMES
from tunespace.probes import accuracy, key_score, r2, retrieval_accuracy, tag_scores, tempo_accuracy, vote


def test_key_score_equals_mir_eval_mean():
    rng = np.random.default_rng(0)
    ref, est = rng.choice(KEY_NAMES, 200), rng.choice(KEY_NAMES, 200)
    est[:20] = ref[:20]
    expected = np.mean([mir_eval.key.weighted_score(r, e) for r, e in zip(ref, est)])
    assert key_score(ref, est) == pytest.approx(expected)
    assert key_score(
        ["C major", "C major", "A minor", "C major"], ["G major", "F major", "C major", "C minor"]
    ) == pytest.approx((0.5 + 0 + 0.3 + 0.2) / 4)


def test_tag_scores_equal_sklearn_macro():
    rng = np.random.default_rng(1)
    y = (rng.uniform(size=(80, 5)) < 0.3).astype(int)
    s = y * 0.5 + rng.uniform(size=(80, 5))
    out = tag_scores(y, s)
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y, s, average="macro"))
    assert out["average_precision"] == pytest.approx(average_precision_score(y, s, average="macro"))
    y[:, 2] = 0  # a tag absent from the test set: left out, counted
    out = tag_scores(y, s)
    assert out["n_tags_skipped"] == 1
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y[:, [0, 1, 3, 4]], s[:, [0, 1, 3, 4]], average="macro"))


def test_tempo_accuracy_hand_pairs():
    ref = [100, 100, 100, 120, 90]
    est = [103.9, 51, 210, 240, 30.5]
    assert tempo_accuracy(ref, est) == pytest.approx(1 / 5)
    assert tempo_accuracy(ref, est, octave=True) == pytest.approx(4 / 5)  # 210 is 5 % off 200


def test_vote_ties_broken_by_nearest():
    nb = np.array(
        [
            [2, 1, 1, 2, 0],  # k=4: 1 and 2 tied (2 each), 2 ranks first -> 2
            [0, 1, 2, 1, 0],  # k=5: 0 and 1 tied, 0 first -> 0
            [3, 1, 1, 3, 3],  # k=5: 3 wins outright
            [4, 0, 1, 2, 3],  # all tied: nearest -> 4
        ]
    )
    np.testing.assert_array_equal(vote(nb, 4), [2, 1, 3, 4])  # row 2: 3 and 1 tied, 3 nearer
    np.testing.assert_array_equal(vote(nb, 5), [2, 0, 3, 4])
    np.testing.assert_array_equal(vote(nb, 1), nb[:, 0])


def test_retrieval_accuracy_and_simple_metrics():
    codes = np.array([0, 0, 1, 1])
    neighbours = np.array([[1, 2], [2, 0], [3, 0], [0, 1]])
    assert retrieval_accuracy(codes, neighbours, [1, 2]) == {1: 0.5, 2: 0.5}
    assert accuracy(["a", "b"], ["a", "a"]) == 0.5
    assert r2([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
