import mir_eval
import numpy as np

from tunespace.keys import KEY_NAMES
from tunespace.locality import measures as M


def test_tempo_tolerance_edges():
    ref = np.full(12, 100.0)
    est = np.array([104, 96, 104.01, 95.99, 100, 200, 208, 208.1, 50, 48, 300, 33.4])
    acc1 = M.tempo_agree(ref, est)
    acc2 = M.tempo_agree(ref, est, octave=True)
    np.testing.assert_array_equal(acc1, [1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(acc2, [1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1])
    assert not M.tempo_agree(100.0, 150.0, octave=True)  # 3/2 is not an accepted factor
    assert not M.tempo_agree(100.0, 31.9, octave=True)


def test_tempo_chance_sorted_equals_pairwise():
    rng = np.random.default_rng(0)
    t = rng.choice([60, 62.4, 57.6, 120, 124.8, 90, 180, 40, 30], 300) * 1.0  # many exact boundary pairs
    t[:50] = rng.uniform(50, 200, 50)
    for octave in (False, True):
        agree = M.tempo_agree(t[:, None], t[None, :], octave=octave).astype(float)
        np.fill_diagonal(agree, 0)
        np.testing.assert_allclose(M.tempo_chance(t, octave), agree.sum(1) / (len(t) - 1))


def test_categorical_chance_formula():
    codes = np.array([0, 0, 0, 1, 1, 2])
    np.testing.assert_allclose(M.categorical_chance(codes), [2 / 5, 2 / 5, 2 / 5, 1 / 5, 1 / 5, 0])


def test_key_graded_against_mir_eval():
    rng = np.random.default_rng(1)
    keys = rng.choice(KEY_NAMES, 60)
    codes = M.key_codes(keys)
    nb = np.array([rng.choice(np.delete(np.arange(60), i), 4, replace=False) for i in range(60)])
    scores = M.key_graded_scores(codes, nb)
    ref = np.array([[mir_eval.key.weighted_score(keys[i], keys[j]) for j in nb[i]] for i in range(60)])
    np.testing.assert_allclose(scores, ref)
    chance = np.array(
        [np.mean([mir_eval.key.weighted_score(keys[i], keys[j]) for j in range(60) if j != i]) for i in range(60)]
    )
    np.testing.assert_allclose(M.key_graded_chance(codes), chance)
    np.testing.assert_allclose(M.agreement_curve(scores, [1, 4]), np.stack([ref[:, 0], ref.mean(1)], 1))
