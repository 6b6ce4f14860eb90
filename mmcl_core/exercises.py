"""Exercises of the course module and their automatic checkers.

Each paper notebook ends with two exercises. An exercise cell defines the student's answer (a function or a
number/name) and calls :func:`check`; a wrong answer raises :class:`ExerciseIncorrect` whose message is a *specific*
hint (which mistake the answer looks like), not just "wrong". :func:`feedback` returns the same verdict without
raising. The checkers compute the right answer from the package (or from the notebook's own measured results, passed
as keyword context), never from a stored number.

Example (notebook 04):

    def s_beta(X, Y, M, temperature):
        ...
    exercises.check("04.1", s_beta)

``mmcl course build`` turns the solution between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` into a stub raising
``NotImplementedError`` for the student version (see :mod:`mmcl_core.course`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy.special import ndtr

from . import report

__all__ = ["EXERCISES", "Exercise", "Feedback", "ExerciseIncorrect", "feedback", "check", "exercises_for"]


class ExerciseIncorrect(AssertionError):
    """A wrong answer; the message is the hint."""


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``passed`` and a message (a hint when wrong)."""

    exercise: str
    passed: bool
    message: str


@dataclass(frozen=True)
class Exercise:
    """One exercise: id ``"NN.k"`` (NN = notebook number), its notebook, a one-line task and its checker.

    The checker takes ``(answer, **context)`` and returns None when right, else the hint (a string).
    """

    id: str
    notebook: str
    task: str
    checker: Callable[..., str | None]
    context: tuple = ()


def _close(a, b, rtol=1e-6, atol=1e-9) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _number(answer, what: str) -> float | str:
    """A finite float, or a hint string saying what was expected."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        return f"{what} should be a number, got {type(answer).__name__}"
    value = float(answer)
    return value if math.isfinite(value) else f"{what} should be finite, got {value}"


def _matrix(answer, shape, what: str) -> np.ndarray | str:
    try:
        arr = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        return f"{what} should return an array, got {type(answer).__name__}"
    if arr.shape != tuple(shape):
        hint = " (transposed?)" if arr.shape == tuple(shape)[::-1] else ""
        return f"{what} should have shape {tuple(shape)}, got {arr.shape}{hint}"
    if not np.all(np.isfinite(arr)):
        return f"{what} returned NaN or inf"
    return arr


def _choice(answer, options, what: str) -> str | None:
    if answer not in options:
        return f"{what} should be one of {list(options)}, got {answer!r}"
    return None


# --- 02: Zhang et al., theory ------------------------------------------------------------------------------------

def _joint(seed: int = 3, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    P = rng.random((n, n)) ** 3
    return P / P.sum()


def _check_02_1(fn):
    from .spectral import normalized_cooccurrence

    P = _joint()
    out = _matrix(fn(P.copy()), P.shape, "your function")
    if isinstance(out, str):
        return out
    ref = normalized_cooccurrence(P)
    if _close(out, ref):
        return None
    pv, pl = P.sum(1), P.sum(0)
    if _close(out, P):
        return "you returned P itself: divide entry (i, j) by sqrt(P_V(i) * P_L(j)), the two marginals"
    if _close(out, P / np.outer(pv, pl)):
        return "you divided by the marginals themselves: use their square roots, D_V^{-1/2} P D_L^{-1/2}"
    if _close(out, P / np.sqrt(np.outer(pl, pv))):
        return ("the marginals are swapped: row i is an image, so scale it by P.sum(axis=1)[i] "
                "(and column j by P.sum(axis=0)[j])")
    top = np.linalg.svd(out, compute_uv=False)[0]
    return f"your matrix's largest singular value is {top:.3f}; a normalised co-occurrence always has sigma_1 = 1"


def _check_02_2(fn):
    from .experiments.zhang2023 import optimal_embeddings

    P, rank = _joint(5, 7), 3
    value = _number(fn(P.copy(), rank), "the minimum loss")
    if isinstance(value, str):
        return value
    ref = optimal_embeddings(P, rank)["min_loss"]
    if abs(value - ref) <= 1e-8 * max(1.0, abs(ref)):
        return None
    from .spectral import normalized_cooccurrence

    s = np.linalg.svd(normalized_cooccurrence(P), compute_uv=False)
    if value > 0:
        return f"the minimum of the spectral loss is negative (-sum of sigma_i^2), got {value:.4f}"
    if abs(value + s[:rank].sum()) < 1e-8:
        return "square the singular values: the minimum is -sum_{i<=r} sigma_i^2 (Eckart-Young on ||A - F_V F_L^T||^2)"
    if abs(value + np.sum(s[:rank + 1] ** 2)) < 1e-8 or abs(value + np.sum(s[:rank - 1] ** 2)) < 1e-8:
        return "sum exactly the r largest squared singular values (sigma_1 = 1 included)"
    if abs(value + np.sum(s[1:rank + 1] ** 2)) < 1e-8:
        return "keep sigma_1 = 1: the trivial direction sqrt(P_V) sqrt(P_L)^T is part of the optimum"
    return f"expected -sum_{{i<=r}} sigma_i^2 of the normalised co-occurrence; your value {value:.4f} is off"


# --- 03: Zhang et al., resampling -------------------------------------------------------------------------------

def _check_03_1(answer, *, table):
    from .losses import RESAMPLING_METHODS as METHODS

    options = [m for m in METHODS if m != "simclr"]
    bad = _choice(answer, options, "the method")
    if bad:
        return bad
    summary = table["summary"]
    base = summary["simclr"]["mean"]
    gains = {m: summary[m]["mean"] - base for m in options}
    best = max(gains, key=gains.get)
    if answer == best:
        return None
    if answer == "drop_false_positive":
        return ("drop_false_positive as released never changes the batch (it is plain SimCLR seed by seed: gain "
                f"{gains[answer]:+.1f} points); read the table's means")
    return (f"{answer} changes SimCLR's probe by {gains[answer]:+.1f} points, but {best} by {gains[best]:+.1f}: "
            "which resampling adds information the augmentations cannot?")


def _check_03_2(answer, *, n_classes=10):
    value = _number(answer, "the same-label rate")
    if isinstance(value, str):
        return value
    chance = 1.0 / n_classes
    if abs(value - chance) <= 0.02:
        return None
    if value < 0.02:
        return "a random pick still lands on an image of the same digit sometimes: how often, with balanced classes?"
    if abs(value - 0.5) < 0.05:
        return "it is not a coin flip: there are as many possible digits as classes, each about equally likely"
    return (f"with {n_classes} balanced classes a uniformly random other image has the same digit with probability "
            f"~1/{n_classes}")


# --- 04: Nakada et al., SVD ------------------------------------------------------------------------------------

def _check_04_1(fn):
    from .spectral import contrastive_cross_covariance

    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((9, 5)), rng.standard_normal((9, 4))
    M = 0.5 * rng.standard_normal((5, 4))
    out = _matrix(fn(X.copy(), Y.copy(), M.copy(), 0.5), (5, 4), "S(beta)")
    if isinstance(out, str):
        return out
    ref = contrastive_cross_covariance(X, Y, M, 0.5)
    if _close(out, ref, rtol=1e-6, atol=1e-10):
        return None
    if _close(out, -ref):
        return "the sign is flipped: S(beta) is MINUS the gradient (positive pairs count +beta_ii, negatives -beta_ij)"
    if _close(out, 9 * ref):
        return "divide by n: S(beta) averages over the n pairs"
    logits = X @ M @ Y.T / 0.5
    for name, w in (("row", np.exp(logits - logits.max(1, keepdims=True))),
                    ("column", np.exp(logits - logits.max(0, keepdims=True)))):
        p = w / (w.sum(1, keepdims=True) if name == "row" else w.sum(0, keepdims=True))
        one = np.where(np.eye(9, dtype=bool), 1 - p, -p)
        if _close(out, X.T @ one @ Y / 9):
            return (f"you used only the {name} softmax: CLIP's loss is symmetric, beta_ij = (p_ij + q_ij)/2 with the "
                    "row softmax p and the column softmax q")
    beta = 0.5 * (np.exp(logits) / np.exp(logits).sum(1, keepdims=True) + np.exp(logits) / np.exp(logits).sum(0))
    if _close(out, X.T @ np.where(np.eye(9, dtype=bool), beta, -beta) @ Y / 9):
        return "the diagonal weight is beta_ii = 1 - (p_ii + q_ii)/2, not (p_ii + q_ii)/2"
    return "compare your matrix with -(gradient of tau * clip_loss in M); check the weights beta and the 1/n"


def _check_04_2(answer, *, rates, eps: float = 0.6):
    value = _number(answer, "the predicted error ratio")
    if isinstance(value, str):
        return value
    i = int(np.flatnonzero(np.isclose(rates["eps"], eps))[0])
    measured, theory = float(rates["ratio"][i]), 1.0 / (1.0 - eps)
    if abs(value / theory - 1) <= 0.1:
        return None
    if abs(value - (1 + eps)) < 0.05:
        return (f"the error grows like 1/(1 - eps), not 1 + eps: the signal in S shrinks by (1 - eps) "
                f"(measured {measured:.2f})")
    if abs(value - theory ** 2) < 0.1:
        return (f"1/(1 - eps), not its square: only the signal term shrinks, the noise term stays "
                f"(measured {measured:.2f})")
    if abs(value - 1) < 0.05:
        return f"wrong pairs do hurt: they dilute the cross-covariance's signal by (1 - eps) (measured {measured:.2f})"
    return f"a fraction eps of wrong pairs scales the signal by (1 - eps); the notebook measured {measured:.2f}"


# --- 05: Nakada et al., unpaired data -------------------------------------------------------------------------

def _check_05_1(fn):
    rng = np.random.default_rng(11)
    scores, b = rng.standard_normal((6, 6)), 6
    out = fn(scores.copy(), b)
    try:
        rows, cols = (np.asarray(a, dtype=int).ravel() for a in out)
    except (TypeError, ValueError):
        return "return two integer arrays (rows, cols) of the selected pseudo pairs"
    if rows.shape != (b,) or cols.shape != (b,):
        return f"select exactly b = {b} pseudo pairs, got {rows.size}"
    top = np.argsort(scores.ravel())[-b:]
    if set(zip(rows.tolist(), cols.tolist())) == set(zip(*np.unravel_index(top, scores.shape))):
        return None
    if np.array_equal(rows, np.arange(b)) and np.array_equal(cols, scores.argmax(1)):
        return ("that is the row-argmax rule (every row gets a partner); global top-b keeps the b largest scores of "
                "the whole matrix, so a confident row may be used twice and an unsure one not at all")
    smallest = set(zip(*np.unravel_index(np.argsort(scores.ravel())[:b], scores.shape)))
    if set(zip(rows.tolist(), cols.tolist())) == smallest:
        return "you kept the b smallest scores: pseudo pairs are the most similar (largest logit) pairs"
    return "flatten the b x b score matrix, keep the indices of its b largest entries, and unravel them to (row, col)"


def _check_05_2(answer, *, batch_size):
    value = _number(answer, "the chance precision")
    if isinstance(value, str):
        return value
    if abs(value - 1 / batch_size) <= 0.1 / batch_size:
        return None
    if abs(value - 0.5) < 0.05:
        return "a pseudo partner is drawn among the B candidates of the batch, not between two options"
    if value > 0.5:
        return f"random pairing is rarely right: the partner is one of B = {batch_size} candidates"
    return f"a uniformly random partner among the batch's B = {batch_size} candidates is right with probability 1/B"


# --- 06: Huang et al., synthetic ------------------------------------------------------------------------------

def _check_06_1(fn):
    from .experiments.huang2024 import n_snr2

    cases = [(100, 5.0, 1.0, 2000), (20, 3.0, 0.5, 8000)]
    got = []
    for case in cases:
        value = _number(fn(*case), "n * SNR^2")
        if isinstance(value, str):
            return value
        got.append(value)
    ref = [n_snr2(*case) for case in cases]
    if _close(got, ref):
        return None
    if _close(got, [n * mu / (s ** 2 * d) for n, mu, s, d in cases]):
        return "square the signal norm: SNR = ||mu|| / (sigma sqrt(d)), so n SNR^2 = n ||mu||^2 / (sigma^2 d)"
    if _close(got, [n * mu ** 2 / (s * d) for n, mu, s, d in cases]):
        return "square the noise standard deviation: the noise patch has squared norm about sigma^2 d"
    if _close(got, [n * mu ** 2 / (s ** 2 * np.sqrt(d)) for n, mu, s, d in cases]) or \
            _close(got, [n * mu ** 2 / s ** 2 for n, mu, s, d in cases]):
        return "divide by d: the noise norm grows like sigma sqrt(d), so SNR^2 carries 1/d"
    if _close(got, [mu ** 2 / (s ** 2 * d) for n, mu, s, d in cases]):
        return "that is SNR^2; the control parameter multiplies it by the number of samples n"
    return "n SNR^2 = n ||mu||^2 / (sigma^2 d); check each factor"


def _check_06_2(answer, *, phase, level: float = 0.8):
    from .experiments.huang2024 import crossing

    value = _number(answer, "the predicted n SNR^2")
    if isinstance(value, str):
        return value
    if value <= 0:
        return "n SNR^2 is positive"
    x = np.asarray(phase["n_snr2"], dtype=float)
    single = crossing(x, phase["single"].mean(1), level)
    multi = min(crossing(x, row.mean(1), level) for row in phase["multi"])
    if not math.isfinite(single):
        return "on this grid single-modal never reaches the level; widen the grid first"
    if abs(math.log(value / single)) <= math.log(1.6):
        return None
    near_multi = math.isfinite(multi) and abs(math.log(value / multi)) <= math.log(1.25)
    if near_multi and abs(math.log(multi / single)) > math.log(1.6):
        return (f"that is where the multi-modal model crosses ({multi:.2f}); the single-modal curve needs a larger "
                f"n SNR^2 ({single:.2f} on this grid)")
    side = "larger" if value < single else "smaller"
    return (f"too {'low' if value < single else 'high'}: the single-modal OOD accuracy crosses {level} at a {side} "
            "n SNR^2")


# --- 07: Huang et al., ColoredDigits --------------------------------------------------------------------------

def _check_07_1(fn):
    rng = np.random.default_rng(5)
    train = rng.normal(3.0, [1.0, 5.0, 0.2], size=(40, 3))
    test = rng.normal(-1.0, [2.0, 1.0, 0.5], size=(30, 3))
    out = fn(train.copy(), test.copy())
    try:
        a, b = (np.asarray(x, dtype=float) for x in out)
    except (TypeError, ValueError):
        return "return the pair (standardised train, standardised test)"
    if a.shape != train.shape or b.shape != test.shape:
        return f"return arrays shaped like the inputs, {train.shape} and {test.shape}"
    mu, sd = train.mean(0), train.std(0)
    if _close(a, (train - mu) / sd, rtol=1e-3, atol=1e-6) and _close(b, (test - mu) / sd, rtol=1e-3, atol=1e-6):
        return None
    if _close(b, (test - test.mean(0)) / test.std(0), rtol=1e-3, atol=1e-6):
        return "the test features used their own mean and scale: fit both on the training features only (no peeking)"
    if _close(a, train / sd, rtol=1e-3, atol=1e-6):
        return "subtract the training mean too"
    if _close(a, (train - mu) / sd ** 2, rtol=1e-3, atol=1e-6):
        return "divide by the standard deviation, not the variance"
    return "z = (x - mean_train) / std_train, feature by feature, with the training statistics for both sets"


def _check_07_2(answer, *, summary):
    gaps = summary["test_gap"]
    options = [m for m in gaps if m != "single"]
    bad = _choice(answer, options, "the caption method")
    if bad:
        return bad
    best = max(options, key=gaps.get)
    if answer == best:
        return None
    if "color" in answer:
        return (f"{answer} names the colour: the text then rewards the colour feature (OOD gap {gaps[answer]:+.3f}); "
                "which caption names only what survives the shift?")
    return f"{answer} gains {gaps[answer]:+.3f} out of distribution, {best} {gaps[best]:+.3f}"


# --- 08: Xue et al., theory -----------------------------------------------------------------------------------

def _check_08_1(fn):
    from .experiments.xue2024 import linear_accuracy

    cases = [dict(w_core=1.0, w_spu=0.5, p_test=0.1, sigma_core=2.0, sigma_spu=0.1, mu_core=1.0, mu_spu=1.0),
             dict(w_core=0.3, w_spu=2.0, p_test=0.9, sigma_core=1.0, sigma_spu=0.5, mu_core=1.5, mu_spu=0.7)]
    got = []
    for c in cases:
        value = _number(fn(**c), "the accuracy")
        if isinstance(value, str):
            return value
        got.append(value)
    if not all(0 <= g <= 1 for g in got):
        return f"an accuracy lies in [0, 1], got {got}"
    ref = [linear_accuracy(**c) for c in cases]
    if _close(got, ref, rtol=1e-6):
        return None

    def variant(c, *, s_fn, mix=True):
        s = s_fn(c)
        hit = ndtr((c["w_core"] * c["mu_core"] + c["w_spu"] * c["mu_spu"]) / s)
        miss = ndtr((c["w_core"] * c["mu_core"] - c["w_spu"] * c["mu_spu"]) / s)
        return c["p_test"] * hit + (1 - c["p_test"]) * miss if mix else hit

    full = lambda c: math.hypot(c["w_core"] * c["sigma_core"], c["w_spu"] * c["sigma_spu"])
    if _close(got, [variant(c, s_fn=full, mix=False) for c in cases], rtol=1e-6):
        return "the cue agrees with the class only with probability p_test: mix the agreeing and the flipped case"
    if _close(got, [variant(c, s_fn=lambda c: c["w_core"] * c["sigma_core"]) for c in cases], rtol=1e-6):
        return "the spurious feature has spread too: s^2 = w_core^2 sigma_core^2 + w_spu^2 sigma_spu^2"
    if _close(got, [variant(c, s_fn=lambda c: full(c) ** 2) for c in cases], rtol=1e-6):
        return "divide the margin by the standard deviation s, not the variance s^2"
    return "P(correct) = p Phi((w_c mu_core + w_s mu_spu)/s) + (1 - p) Phi((w_c mu_core - w_s mu_spu)/s)"


def _check_08_2(answer, *, rich, invariance):
    bad = _choice(answer, ("core", "spurious", "details"), "the annotation")
    if bad:
        return bad
    gain = float(rich["closed"]["ood_flipped"][-1] - rich["closed"]["ood_flipped"][0])
    if answer == "core" and gain > 0:
        return None
    if answer == "core":
        return f"on this setting describing the core feature did not help (gain {gain:+.3f}): check the parameters"
    if answer == "spurious":
        return (f"naming the cue in the caption changes the linear-loss model by at most {invariance['max_change']:.3f}"
                " (full rank: the annotation is invisible); the flipped test punishes the cue, so what must the text "
                "describe?")
    return ("details only compete with the class for embedding capacity (the capacity sweep); they carry no signal "
            "about the class under the flipped test")


# --- 09: Xue et al., real data --------------------------------------------------------------------------------

def _check_09_1(fn):
    from .experiments.xue2024 import effective_robustness

    rng = np.random.default_rng(2)
    ids = {m: np.sort(rng.uniform(0.6, 0.95, 4)) for m in ("supervised", "clip")}
    study = {"shifts": ["color:correlated", "color:adversarial"], "methods": ["supervised", "clip"],
             "accuracy": {m: np.stack([ids[m], 0.8 * ids[m] - 0.3 + (0.15 if m == "clip" else 0.0)
                                       + rng.normal(0, 0.01, 4)], 1) for m in ids}}
    ref = effective_robustness(study, "color:adversarial")["effective_robustness"]["clip"]
    acc = study["accuracy"]
    value = _number(fn(acc["supervised"][:, 0].copy(), acc["supervised"][:, 1].copy(), acc["clip"][:, 0].copy(),
                       acc["clip"][:, 1].copy()), "the effective robustness")
    if isinstance(value, str):
        return value
    if abs(value - ref) <= 1e-6:
        return None
    if abs(value - float(np.mean(acc["clip"][:, 1] - acc["supervised"][:, 1]))) < 1e-6:
        return ("that is the raw gap in shifted accuracy; effective robustness is the offset above the BASELINE's "
                "fitted line (shifted vs in-distribution accuracy), so a model is not credited for being more accurate")
    if abs(value) < 1e-6:
        return "you fitted the line to the model's own points (its offset is then 0): fit it to the baseline's points"
    slope, intercept = np.polyfit(acc["supervised"][:, 1], acc["supervised"][:, 0], 1)
    if abs(value - float(np.mean(acc["clip"][:, 0] - (slope * acc["clip"][:, 1] + intercept)))) < 1e-6:
        return "the axes are swapped: regress SHIFTED accuracy on in-distribution accuracy"
    return ("fit shifted = a * id + b on the baseline's runs (np.polyfit), then average the model's "
            "shifted - (a * id + b)")


def _check_09_2(answer, *, full, shift: str = "color:adversarial"):
    bad = _choice(answer, list(full), "the method")
    if bad:
        return bad
    acc = {m: full[m][shift] for m in full}
    best = max(acc, key=acc.get)
    if answer == best:
        return None
    return (f"{answer} reaches {acc[answer]:.3f} on {shift}, {best} {acc[best]:.3f}: on this proxy the measured "
            "ordering, not the theorem's, is the answer (the notebook explains why they differ)")


EXERCISES: dict[str, Exercise] = {e.id: e for e in [
    Exercise("02.1", "02_zhang_theory", "implement the normalised co-occurrence D_V^{-1/2} P D_L^{-1/2}", _check_02_1),
    Exercise("02.2", "02_zhang_theory", "the minimum of the spectral loss at embedding dimension r", _check_02_2),
    Exercise("03.1", "03_zhang_resampling", "which resampling method helps SimCLR most under the nuisance?",
             _check_03_1, ("table",)),
    Exercise("03.2", "03_zhang_resampling", "the same-label rate of a uniformly random teacher", _check_03_2),
    Exercise("04.1", "04_nakada_svd", "implement S(beta) and check it against the gradient", _check_04_1),
    Exercise("04.2", "04_nakada_svd", "predict the sin-theta error ratio at eps = 0.6", _check_04_2, ("rates",)),
    Exercise("05.1", "05_nakada_unpaired", "implement global top-b pseudo pairing", _check_05_1),
    Exercise("05.2", "05_nakada_unpaired", "the precision of random pseudo pairs (chance level)", _check_05_2,
             ("batch_size",)),
    Exercise("06.1", "06_huang_synthetic", "implement the control parameter n SNR^2", _check_06_1),
    Exercise("06.2", "06_huang_synthetic", "predict where the single-modal model starts to learn the signal",
             _check_06_2, ("phase",)),
    Exercise("07.1", "07_huang_colored_digits", "standardise features with training statistics", _check_07_1),
    Exercise("07.2", "07_huang_colored_digits", "which caption steers the encoder away from colour?", _check_07_2,
             ("summary",)),
    Exercise("08.1", "08_xue_theory", "implement the accuracy of a linear classifier (P3)", _check_08_1),
    Exercise("08.2", "08_xue_theory", "which caption annotation helps under the flipped test set?", _check_08_2,
             ("rich", "invariance")),
    Exercise("09.1", "09_xue_real_data", "implement effective robustness", _check_09_1),
    Exercise("09.2", "09_xue_real_data", "which model is most accurate under the adversarial colour shift?",
             _check_09_2, ("full",)),
]}


def exercises_for(notebook: str) -> list[Exercise]:
    """The exercises of one notebook (by stem, e.g. ``"04_nakada_svd"``)."""
    return [e for e in EXERCISES.values() if e.notebook == notebook]


def feedback(exercise_id: str, answer: Any, **context) -> Feedback:
    """Check an answer without raising on a wrong one.

    Args:
        exercise_id: e.g. ``"04.1"`` (see :data:`EXERCISES`).
        answer: the student's function or value.
        **context: the notebook results the exercise needs (its ``context`` names).

    Raises:
        ValueError: unknown exercise id or missing context. ``NotImplementedError`` raised by an unfinished answer
        propagates.
    """
    if exercise_id not in EXERCISES:
        raise ValueError(f"exercise_id must be one of {sorted(EXERCISES)}, got {exercise_id!r}")
    ex = EXERCISES[exercise_id]
    missing = [name for name in ex.context if name not in context]
    if missing:
        raise ValueError(f"exercise {exercise_id} needs the notebook's {missing} as keyword arguments")
    hint = ex.checker(answer, **context)
    if hint is None:
        return Feedback(exercise_id, True, f"Exercise {exercise_id} ({ex.task}): correct.")
    return Feedback(exercise_id, False, f"Exercise {exercise_id}: not yet. Hint: {hint}")


def check(exercise_id: str, answer: Any, **context) -> Feedback:
    """Check an answer: print and return the verdict when right, raise :class:`ExerciseIncorrect` (the hint) when
    wrong. A correct answer is recorded as metric ``exercise_<id>`` (see :mod:`mmcl_core.report`)."""
    result = feedback(exercise_id, answer, **context)
    if not result.passed:
        raise ExerciseIncorrect(result.message)
    report.record(f"exercise_{exercise_id}", True)
    print("✓", result.message)
    return result
