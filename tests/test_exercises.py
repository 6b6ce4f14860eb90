"""Every exercise checker accepts a right answer, rejects a plausible wrong one with a specific hint, and lets a
student's unfinished stub (NotImplementedError) through."""

import numpy as np
import pytest
from scipy.special import ndtr

from mmcl_core import exercises
from mmcl_core.exercises import EXERCISES, ExerciseIncorrect, check, feedback

# --- independent right answers -----------------------------------------------------------------------------------


def cooc(P):
    return P / np.sqrt(np.outer(P.sum(1), P.sum(0)))


def min_spectral_loss(P, k):
    return -float(np.sum(np.linalg.svd(cooc(P), compute_uv=False)[:k] ** 2))


def s_beta(X, Y, M, temperature):
    logits = X @ M @ Y.T / temperature
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    q = np.exp(logits - logits.max(0, keepdims=True))
    q /= q.sum(0, keepdims=True)
    beta = (p + q) / 2
    weights = np.where(np.eye(len(X), dtype=bool), 1 - beta, -beta)
    return X.T @ weights @ Y / len(X)


def top_b(scores, b):
    return np.unravel_index(np.argsort(scores.ravel())[-b:], scores.shape)


def standardise(train, test):
    mu, sd = train.mean(0), train.std(0)
    return (train - mu) / sd, (test - mu) / sd


def accuracy(w_core, w_spu, p_test, sigma_core, sigma_spu, mu_core, mu_spu):
    s = np.hypot(w_core * sigma_core, w_spu * sigma_spu)
    return (p_test * ndtr((w_core * mu_core + w_spu * mu_spu) / s)
            + (1 - p_test) * ndtr((w_core * mu_core - w_spu * mu_spu) / s))


def eff_rob(id_base, sh_base, id_m, sh_m):
    a, b = np.polyfit(id_base, sh_base, 1)
    return float(np.mean(sh_m - (a * id_m + b)))


# --- notebook-shaped contexts ------------------------------------------------------------------------------------

TABLE = {"summary": {"simclr": {"mean": 60.0}, "add_new_positive": {"mean": 70.0},
                     "drop_false_negative": {"mean": 61.0},
                     "drop_easy_negative": {"mean": 59.0}, "drop_false_positive": {"mean": 60.0}}}
RATES = {"eps": np.array([0.0, 0.3, 0.6]), "ratio": np.array([1.0, 1.45, 2.6])}
PD = {"n_snr2": np.array([0.2, 0.5, 1.0, 2.0, 5.0]),
      "single": np.array([[0.5, 0.5], [0.55, 0.6], [0.7, 0.7], [0.9, 0.9], [1.0, 1.0]]),
      "multi": np.array([[[0.5, 0.5], [0.9, 0.9], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]])}
SUMMARY = {"test_gap": {"single": 0.0, "multi_ideal_digit": 0.3, "multi_ideal_digit_color": 0.05,
                        "multi_minilm_digit": 0.2}}
RICH = {"closed": {"ood_flipped": np.array([0.55, 0.6, 0.7])}}
INVARIANCE = {"max_change": 0.002}
FULL = {"clip_level0": {"color:adversarial": 0.4}, "clip_level1": {"color:adversarial": 0.3},
        "supervised": {"color:adversarial": 0.45}}

# id -> (right answer, context, [(plausible wrong answer, words the hint must contain)])
CASES = {
    "02.1": (cooc, {}, [(lambda P: P / np.outer(P.sum(1), P.sum(0)), "square roots"),
                        (lambda P: P, "returned P itself"),
                        (lambda P: P / np.sqrt(np.outer(P.sum(0), P.sum(1))), "swapped")]),
    "02.2": (min_spectral_loss, {}, [
        (lambda P, k: -float(np.sum(np.linalg.svd(cooc(P), compute_uv=False)[:k])), "square the singular values"),
        (lambda P, k: -float(np.sum(np.linalg.svd(cooc(P), compute_uv=False)[1:k + 1] ** 2)), "keep sigma_1")]),
    "03.1": ("add_new_positive", {"table": TABLE}, [("drop_false_positive", "plain SimCLR"),
                                                    ("drop_false_negative", "+1.0 points")]),
    "03.2": (0.1, {}, [(0.0, "sometimes"), (0.5, "coin flip")]),
    "04.1": (s_beta, {}, [(lambda *a: -s_beta(*a), "sign is flipped"), (lambda *a: 9 * s_beta(*a), "divide by n")]),
    "04.2": (2.5, {"rates": RATES}, [(1.6, "not 1 + eps"), (6.25, "not its square"), (1.0, "do hurt")]),
    "05.1": (top_b, {}, [(lambda s, b: (np.arange(b), s.argmax(1)), "row-argmax"),
                         (lambda s, b: np.unravel_index(np.argsort(s.ravel())[:b], s.shape), "smallest")]),
    "05.2": (1 / 50, {"batch_size": 50}, [(0.5, "not between two options"), (1 / 5000, "1/B")]),
    "06.1": (lambda n, mu, s, d: n * mu ** 2 / (s ** 2 * d), {}, [
        (lambda n, mu, s, d: n * mu / (s ** 2 * d), "square the signal norm"),
        (lambda n, mu, s, d: n * mu ** 2 / s ** 2, "divide by d"),
        (lambda n, mu, s, d: mu ** 2 / (s ** 2 * d), "number of samples")]),
    "06.2": (1.8, {"phase": PD}, [(0.4, "multi-modal model crosses"), (20.0, "too high")]),
    "07.1": (standardise, {}, [(lambda tr, te: (standardise(tr, tr)[0], standardise(te, te)[0]),
                                "training features only"),
                               (lambda tr, te: (tr / tr.std(0), te / tr.std(0)), "subtract the training mean")]),
    "07.2": ("multi_ideal_digit", {"summary": SUMMARY}, [("multi_ideal_digit_color", "names the colour")]),
    "08.1": (accuracy, {}, [
        (lambda w_core, w_spu, p_test, sigma_core, sigma_spu, mu_core, mu_spu:
         ndtr((w_core * mu_core + w_spu * mu_spu) / np.hypot(w_core * sigma_core, w_spu * sigma_spu)),
         "probability p_test"),
        (lambda w_core, w_spu, p_test, sigma_core, sigma_spu, mu_core, mu_spu:
         accuracy(w_core, w_spu, p_test, sigma_core, 0.0, mu_core, mu_spu), "spread too")]),
    "08.2": ("core", {"rich": RICH, "invariance": INVARIANCE}, [("spurious", "invisible"), ("details", "capacity")]),
    "09.1": (eff_rob, {}, [(lambda ib, sb, im, sm: float(np.mean(sm - sb)), "raw gap"),
                           (lambda ib, sb, im, sm: eff_rob(im, sm, im, sm), "own points")]),
    "09.2": ("supervised", {"full": FULL}, [("clip_level0", "0.400")]),
}


def test_every_exercise_has_a_case_and_two_or_three_per_paper_notebook():
    assert set(CASES) == set(EXERCISES)
    for notebook in {e.notebook for e in EXERCISES.values()}:
        assert 2 <= len(exercises.exercises_for(notebook)) <= 3


@pytest.mark.parametrize("exercise_id", sorted(CASES))
def test_right_answer_passes_and_is_recorded(exercise_id, capsys):
    answer, context, _ = CASES[exercise_id]
    result = check(exercise_id, answer, **context)
    assert result.passed and "correct" in capsys.readouterr().out
    from mmcl_core import report
    assert report.metrics()[f"exercise_{exercise_id}"] is True


@pytest.mark.parametrize("exercise_id", sorted(CASES))
def test_plausible_wrong_answers_get_their_specific_hint(exercise_id):
    _, context, wrong = CASES[exercise_id]
    hints = set()
    for answer, words in wrong:
        result = feedback(exercise_id, answer, **context)
        assert not result.passed and words in result.message, result.message
        hints.add(result.message)
        with pytest.raises(ExerciseIncorrect, match="Hint"):
            check(exercise_id, answer, **context)
    assert len(hints) == len(wrong), "each mistake gets its own hint"


@pytest.mark.parametrize("exercise_id", sorted(i for i, case in CASES.items() if callable(case[0])))
def test_unfinished_stub_propagates_not_implemented(exercise_id):
    """Function exercises: the student's stub raises inside the checker (value exercises raise before it)."""
    answer, context, _ = CASES[exercise_id]

    def stub(*args, **kwargs):
        raise NotImplementedError("Exercise: write your solution here")

    with pytest.raises(NotImplementedError):
        check(exercise_id, stub, **context)


def test_wrong_type_and_shape_are_hints_not_crashes():
    assert "shape" in feedback("02.1", lambda P: P[:, :2]).message
    assert "transposed" in feedback("04.1", lambda X, Y, M, t: np.zeros((4, 5))).message
    assert "number" in feedback("03.2", "ten percent").message
    assert "one of" in feedback("07.2", "best", summary=SUMMARY).message


def test_bad_id_or_missing_context_raise_value_error():
    with pytest.raises(ValueError, match="exercise_id must be one of"):
        feedback("99.9", 1)
    with pytest.raises(ValueError, match="rates"):
        feedback("04.2", 2.5)
