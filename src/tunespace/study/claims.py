"""The study's four claims, the rule each verdict follows from, and the data they are judged on.

Claims (those of McCallum et al., ICASSP 2024), judged on every evaluation set at
``analysis.headline_k``, always against ``none``. Every effect is an estimate over training
seeds *and* evaluation tracks (:func:`tunespace.study.stats.two_source`): a 95 % interval
that covers both sources of variance, the same seeds and tracks paired across conditions.

1. **PS lowers key locality** (exact key, L@k): *supported* when the interval of
   L(ps) - L(none) lies below 0; *contradicted* when it lies above 0; else *not supported*.
2. **TS lowers tempo locality** (tempo Acc1, L@k): the same rule for L(ts) - L(none).
3. **Removing the shortcuts raises genre, mood and instrument locality and k-NN accuracy**:
   for every policy with ``ts`` or ``ps`` and each of genre, mood, instrument, the
   differences against ``none`` of L@k and of k-NN accuracy (``analysis.knn_k``) form one
   family of m tests (two-sided t, seeds and tracks); Holm's step-down correction keeps the
   family-wise error at 5 %. *supported*: every test significantly positive; *partly
   supported*: some positive and none negative; *mixed*: both; *contradicted*: only
   negative ones; *not supported*: none significant.
4. **The best policy differs between downstream tasks** (k-NN accuracy and probe scores per
   property): the tracks are split into two halves (seeded by ``analysis.split_seed``). On
   one half, the crossing that looks strongest is chosen: tasks t1 != t2 and policies a != b
   maximising min(score(t1, a) - score(t1, b), score(t2, b) - score(t2, a)); on the other
   half, both differences are tested (one-sided t, seeds and tracks; p = the larger of the
   two, as both must hold). This is done both ways, and the two are combined by Bonferroni
   (p = 2 min(p_1, p_2), valid whatever their dependence): *supported* when p < 0.025, the
   one-sided error of a 95 % interval. The choice never sees the tracks it is tested on.

Each effect is also given in units of the **noise floor**: the standard deviation of L@k
that random embeddings of the same tracks show (:func:`tunespace.locality.null_locality`).

The functions take arrays with any leading batch shape, so that the calibration tests
(``tests/study/test_calibration.py``) run thousands of simulated studies through exactly
this code.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..augment import parse_condition
from .stats import LEVEL, Estimate, TwoSource, holm, two_source

SHORTCUT_FREE_PROPS = ("genre", "mood", "instrument")
TASK_METRICS = ("knn_accuracy", "probe_linear", "probe_mlp")
ALPHA = 1.0 - LEVEL
TEXT = {
    1: "PS lowers key locality compared with none",
    2: "TS lowers tempo locality compared with none",
    3: "Policies removing the key/tempo shortcuts raise genre, mood, instrument locality and k-NN accuracy",
    4: "The best policy differs between downstream tasks",
}
RULES = {
    1: "supported when the 95 % interval (seeds and tracks) of L@k(ps) - L@k(none) for exact key lies "
    "below 0; contradicted when above 0; otherwise not supported.",
    2: "supported when the 95 % interval (seeds and tracks) of L@k(ts) - L@k(none) for tempo (Acc1) lies "
    "below 0; contradicted when above 0; otherwise not supported.",
    3: "one family of tests, policy - none for every ts/ps policy x {genre, mood, instrument} x {L@k, k-NN "
    "accuracy} (two-sided t over seeds and tracks), Holm-corrected at family-wise 5 %: supported if every "
    "test is significantly positive, partly supported if some are and none is negative, mixed if both, "
    "contradicted if only negative ones, else not supported.",
    4: "the tracks are halved (seeded); on one half the strongest crossing (a beats b on task 1, b beats a on "
    "task 2) is chosen, on the other both differences are tested (one-sided t over seeds and tracks, p = "
    "the larger); both ways, combined by Bonferroni p = 2 min(p1, p2): supported if p < 0.025.",
}


@dataclass
class StudyItems:
    """Per-item values of every metric of a study: what the verdicts and intervals use.

    Attributes:
        ids: dataset -> item (track) ids: the item axis N of that dataset's arrays.
        values: (dataset, property or measure, metric, k) -> condition -> (..., S, N) per-item
            values of the condition's S seeds: per-query agreement for ``locality``, per-item
            scores for ``knn_accuracy`` and ``probe_*``; NaN where an item is not scored.
            ``k`` is a string (``""`` for probes).
        chance: (dataset, measure) -> (..., N) per-query chance of the locality measure.
        null: (dataset, measure, k) -> standard deviation of L@k for random embeddings.
        roles: dataset -> ``exploratory`` or ``confirmatory``.
    """

    ids: dict[str, list[str]]
    values: dict[tuple[str, str, str, str], dict[str, np.ndarray]]
    chance: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    null: dict[tuple[str, str, str], float] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    def estimate(self, ds: str, prop: str, metric: str, k: str, cond: str, base: str | None = None) -> TwoSource | None:
        """Estimate of ``cond`` (or of ``cond - base``) for one metric, or None if missing."""
        vals = self.values.get((ds, prop, metric, str(k)), {})
        if cond not in vals or (base is not None and base not in vals):
            return None
        chance = self.chance.get((ds, prop)) if metric == "locality" else None
        if metric == "locality" and chance is None:
            return None
        return two_source(vals[cond], None if base is None else vals[base], chance)


def _policy(cond: str) -> str:
    return parse_condition(cond)[0] if not cond.startswith("baseline:") else cond


def _pick(conditions: list[str], want: str) -> str | None:
    """The condition that is exactly ``want`` (default backend), else the first whose policy is ``want``."""
    if want in conditions:
        return want
    return next((c for c in conditions if _policy(c) == want), None)


def _shift_verdict(e: TwoSource) -> np.ndarray:
    return np.where(e.high < 0, "supported", np.where(e.low > 0, "contradicted", "not supported"))


def _family_verdict(effects: list[TwoSource]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Holm over the family; returns (verdict, adjusted p (..., m), ups, downs)."""
    p = np.stack([e.p_two_sided() for e in effects], axis=-1)
    mean = np.stack([e.mean for e in effects], axis=-1)
    adj = holm(p)
    sig = adj <= ALPHA
    up = (sig & (mean > 0)).sum(axis=-1)
    down = (sig & (mean < 0)).sum(axis=-1)
    m = len(effects)
    verdict = np.where(
        up == m,
        "supported",
        np.where(
            (up > 0) & (down == 0),
            "partly supported",
            np.where((up > 0) & (down > 0), "mixed", np.where(down > 0, "contradicted", "not supported")),
        ),
    )
    return verdict, adj, up, down


def halves(n: int, seed: int) -> np.ndarray:
    """Boolean (n,): the first half of the items in a permutation seeded by ``seed``."""
    h = np.zeros(n, dtype=bool)
    h[np.random.default_rng(seed).permutation(n)[: n // 2]] = True
    return h


def _take(v: np.ndarray, t: np.ndarray, c: np.ndarray) -> np.ndarray:
    """v (..., T, C, S, N) at task t (...) and condition c (...) -> (..., S, N)."""
    out = np.take_along_axis(v, t[..., None, None, None, None], axis=-4)
    out = np.take_along_axis(out, c[..., None, None, None, None], axis=-3)
    return out[..., 0, 0, :, :]


def crossing_test(v: np.ndarray, half: np.ndarray) -> dict[str, Any]:
    """Claim 4's test on stacked task scores ``v`` (..., T, C, S, N) with items split by ``half`` (N,).

    Returns arrays: ``p`` (combined), and per direction ``p_dir`` (2, ...), the chosen
    ``t1, t2, a, b`` (2, ...) and the held-out estimates ``e1, e2`` (lists of two TwoSource).
    """
    t_n, c_n = v.shape[-4], v.shape[-3]
    res: dict[str, Any] = {"p_dir": [], "t1": [], "t2": [], "a": [], "b": [], "e1": [], "e2": [], "strength": []}
    for sel in (half, ~half):
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            m = np.nanmean(np.where(sel, v, np.nan), axis=(-2, -1))  # (..., T, C)
        d = m[..., :, :, None] - m[..., :, None, :]  # d[t, a, b] = m[t, a] - m[t, b]
        s = np.minimum(d[..., :, None, :, :], -d[..., None, :, :, :])  # (..., T1, T2, A, B)
        invalid = np.eye(t_n, dtype=bool)[:, :, None, None] | np.eye(c_n, dtype=bool)[None, None, :, :]
        s = np.where(invalid | np.isnan(s), -np.inf, s)
        flat = s.reshape(*s.shape[:-4], -1)
        best = flat.argmax(axis=-1)
        t1, t2, a, b = np.unravel_index(best, (t_n, t_n, c_n, c_n))
        test = ~sel
        e1 = two_source(np.where(test, _take(v, t1, a), np.nan), np.where(test, _take(v, t1, b), np.nan))
        e2 = two_source(np.where(test, _take(v, t2, b), np.nan), np.where(test, _take(v, t2, a), np.nan))
        p = np.maximum(e1.p_greater(), e2.p_greater())
        res["p_dir"].append(np.where(np.isnan(p), 1.0, p))
        for key, val in (("t1", t1), ("t2", t2), ("a", a), ("b", b), ("e1", e1), ("e2", e2)):
            res[key].append(val)
        res["strength"].append(np.take_along_axis(flat, best[..., None], axis=-1)[..., 0])
    res["p"] = np.minimum(1.0, 2.0 * np.minimum(res["p_dir"][0], res["p_dir"][1]))
    return res


def claim_verdicts(cfg: dict[str, Any], items: StudyItems) -> list[dict[str, Any]]:
    """Every claim on every evaluation set, as arrays over any leading batch shape.

    Returns one dict per (dataset, claim) with ``verdict`` (array of str) and the numbers it
    follows from (TwoSource objects and arrays); :func:`judge_claims` makes them printable.
    """
    a = cfg["analysis"]
    k = str(a["headline_k"])
    kk = str(a.get("knn_k", 10))
    conds = [c for c in cfg["conditions"]]
    out = []
    for spec in cfg["eval_data"]:
        ds = spec["name"]
        role = spec.get("role", "exploratory")
        base = "none" if "none" in conds else None
        for num, want, prop in ((1, "ps", "key"), (2, "ts", "tempo_bpm")):
            cond = _pick(conds, want)
            e = None if base is None or cond is None else items.estimate(ds, prop, "locality", k, cond, base)
            if e is None:
                out.append(
                    {
                        "claim": num,
                        "dataset": ds,
                        "role": role,
                        "verdict": np.array("not tested"),
                        "why": f"needs conditions none and {want} and {prop} locality",
                    }
                )
                continue
            out.append(
                {
                    "claim": num,
                    "dataset": ds,
                    "role": role,
                    "verdict": _shift_verdict(e),
                    "effect": e,
                    "comparison": f"{cond} - {base}",
                    "metric": f"{prop} L@{k}",
                    "null_sd": items.null.get((ds, prop, k)),
                }
            )
        removers = [c for c in conds if c != "none" and any(p in _policy(c).split("+") for p in ("ts", "ps"))]
        tests = []
        for c in removers if base else []:
            for prop in SHORTCUT_FREE_PROPS:
                for metric, kx in (("locality", k), ("knn_accuracy", kk)):
                    e = items.estimate(ds, prop, metric, kx, c, base)
                    if e is not None:
                        tests.append(
                            {
                                "comparison": f"{c} - {base}",
                                "property": prop,
                                "metric": f"{metric}@{kx}",
                                "effect": e,
                                "null_sd": items.null.get((ds, prop, kx)) if metric == "locality" else None,
                            }
                        )
        if not tests:
            out.append(
                {
                    "claim": 3,
                    "dataset": ds,
                    "role": role,
                    "verdict": np.array("not tested"),
                    "why": "needs none, a ts/ps policy and genre, mood or instrument labels",
                }
            )
        else:
            verdict, adj, up, down = _family_verdict([t["effect"] for t in tests])
            out.append(
                {
                    "claim": 3,
                    "dataset": ds,
                    "role": role,
                    "verdict": verdict,
                    "tests": tests,
                    "p_holm": adj,
                    "ups": up,
                    "downs": down,
                }
            )
        trained = [c for c in conds]
        tasks = sorted(
            {
                (p, m, kx)
                for (d, p, m, kx), byc in items.values.items()
                if d == ds and m in TASK_METRICS and sum(c in byc for c in trained) >= 2
            }
        )
        have = [c for c in trained if all(c in items.values[(ds, p, m, kx)] for p, m, kx in tasks)]
        if len(tasks) < 2 or len(have) < 2:
            out.append(
                {
                    "claim": 4,
                    "dataset": ds,
                    "role": role,
                    "verdict": np.array("not tested"),
                    "why": "needs two conditions and two tasks (k-NN or probe scores)",
                }
            )
            continue
        v = np.stack(
            [np.stack([items.values[(ds, p, m, kx)][c] for c in have], axis=-3) for p, m, kx in tasks], axis=-4
        )
        res = crossing_test(v, halves(v.shape[-1], int(a.get("split_seed", 0))))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(v, axis=(-2, -1))  # (..., T, C)
        out.append(
            {
                "claim": 4,
                "dataset": ds,
                "role": role,
                "verdict": np.where(res["p"] < ALPHA / 2, "supported", "not supported"),
                "crossing": res,
                "tasks": [f"{p} {m}" + (f"@{kx}" if kx else "") for p, m, kx in tasks],
                "conditions": have,
                "best": means.argmax(axis=-1),
            }
        )
    return out


def _py(x: Any) -> Any:
    x = np.asarray(x)
    return x.item() if x.shape == () else x.tolist()


def _units(e: Estimate, sd: float | None) -> str:
    if not sd or not math.isfinite(sd) or math.isnan(e.mean):
        return "–"
    return f"{e.mean / sd:+.1f} SD"


def judge_claims(cfg: dict[str, Any], items: StudyItems) -> list[dict[str, Any]]:
    """The verdict on each claim for each evaluation set (JSON-ready dicts), see the module docstring."""
    claims = []
    for c in claim_verdicts(cfg, items):
        d: dict[str, Any] = {
            "claim": c["claim"],
            "dataset": c["dataset"],
            "role": c["role"],
            "text": TEXT[c["claim"]],
            "verdict": str(_py(c["verdict"])),
            "rule": RULES[c["claim"]],
        }
        if "why" in c:
            d["detail"] = c["why"]
        elif c["claim"] in (1, 2):
            e = c["effect"].estimate()
            d.update(
                comparison=c["comparison"],
                metric=c["metric"],
                difference=e.as_dict(),
                null_sd=c["null_sd"],
                effect_in_null_sd=(e.mean / c["null_sd"]) if c["null_sd"] else None,
                detail=f"{e.fmt()} ({_units(e, c['null_sd'])})",
            )
        elif c["claim"] == 3:
            parts = []
            for t, p in zip(c["tests"], np.asarray(c["p_holm"]).tolist()):
                e = t["effect"].estimate()
                parts.append(
                    {
                        "comparison": t["comparison"],
                        "property": t["property"],
                        "metric": t["metric"],
                        "difference": e.as_dict(),
                        "p_holm": p,
                        "null_sd": t["null_sd"],
                        "detail": f"{e.fmt()}" + (f" ({_units(e, t['null_sd'])})" if t["null_sd"] else ""),
                    }
                )
            d.update(
                differences=parts,
                detail=f"{_py(c['ups'])} of {len(parts)} differences significantly positive, "
                f"{_py(c['downs'])} significantly negative (Holm)",
            )
        else:
            r = c["crossing"]
            tasks, conds = c["tasks"], c["conditions"]
            dirs = []
            for h in range(2):
                t1, t2, a, b = (int(_py(r[x][h])) for x in ("t1", "t2", "a", "b"))
                e1, e2 = r["e1"][h].estimate(), r["e2"][h].estimate()
                dirs.append(
                    {
                        "chosen_on": f"half {h + 1}",
                        "tested_on": f"half {2 - h}",
                        "task_1": tasks[t1],
                        "task_2": tasks[t2],
                        "a": conds[a],
                        "b": conds[b],
                        "difference_1": e1.as_dict(),
                        "difference_2": e2.as_dict(),
                        "p": float(_py(r["p_dir"][h])),
                        "detail": f"{conds[a]} - {conds[b]} on {tasks[t1]}: {e1.fmt()}; "
                        f"{conds[b]} - {conds[a]} on {tasks[t2]}: {e2.fmt()}",
                    }
                )
            best = {tasks[i]: conds[j] for i, j in enumerate(np.asarray(c["best"]).tolist())}
            p = float(_py(r["p"]))
            d.update(
                best_by_task=best,
                directions=dirs,
                p=p,
                detail=f"best policies: {', '.join(sorted(set(best.values())))}; held-out crossing p = {p:.3g}",
            )
        claims.append(d)
    return claims
