"""The calibrated colour-cue proxy of Xue et al. (ICLR 2024) on real digits, the ingredient path to CLIP-style
towers, effective robustness on logit axes, and the feature-sharing exploration."""

import numpy as np
import pytest

from mmcl_core.experiments import xue2024 as xue
from mmcl_core.experiments import xue2024_calibrated as xc


def test_calibrated_data_shapes_and_color_tests():
    d = xc.calibrated_data("digits", seed=0)
    assert d["train"]["x"].shape[1] == 64 + 10 and d["n_pixels"] == 64
    tests = d["tests"]
    assert set(tests) == set(xc.CALIBRATED_TESTS)
    own = {name: np.mean(t["color"] == t["y"]) for name, t in tests.items()}
    assert own["adversarial"] == 0.0 and 0.05 < own["independent"] < 0.16 and own["correlated"] > 0.85
    assert np.mean(d["train"]["color"] == d["train"]["y"]) > 0.85
    again = xc.calibrated_data("digits", seed=0)
    assert np.array_equal(again["train"]["x"], d["train"]["x"])  # same seed, same numbers


def test_label_only_mmcl_beats_logistic_regression_under_the_adversarial_color():
    r = xc.calibrated_robustness(0, "digits")
    acc = r["accuracy"]
    assert set(acc) == {"mmcl_label_only", "supervised"} and set(acc["supervised"]) == set(xc.CALIBRATED_TESTS)
    assert acc["mmcl_label_only"]["adversarial"] - acc["supervised"]["adversarial"] >= 0.15, acc
    assert acc["supervised"]["correlated"] > acc["mmcl_label_only"]["correlated"]  # ... at a lower ID accuracy


def test_the_effect_depends_on_a_low_variance_cue():
    low = xc.calibrated_robustness(0, "digits")["accuracy"]
    high = xc.calibrated_robustness(0, "digits", cue_noise=0.5)["accuracy"]
    gap = lambda a: a["mmcl_label_only"]["adversarial"] - a["supervised"]["adversarial"]  # noqa: E731
    assert gap(high) < gap(low) - 0.05, (gap(low), gap(high))


def test_trained_linear_encoders_reach_the_closed_form_and_infonce_does_not():
    names = ["linear loss, closed form (calibrated)", "linear loss, trained linear encoders",
             "InfoNCE, linear encoders, raw dot product (τ = 1)"]
    r = xc.ingredient_study((0,), dataset="digits", ingredients=names)
    closed, trained, infonce = (r["mmcl"][n][0] for n in names)
    assert np.abs(closed - trained).max() < 0.05, (closed, trained)
    assert r["gap"][names[2]][0] < 0 < r["gap"][names[0]][0]


def test_logit_effective_robustness_on_digits():
    er = xc.logit_effective_robustness(0, "digits", n_boot=100)
    assert len(er["family"]) == 12 and len(er["mmcl"]) == 3
    assert er["er_mmcl"] > 0.05 and er["ci_mmcl"][0] > 0, er["ci_mmcl"]
    assert er["ci_mmcl"][0] <= er["er_mmcl"] <= er["ci_mmcl"][1]


def test_feature_sharing_full_rank_class_prompts_see_no_annotation_and_truncation_does():
    s = xue.feature_sharing((0,), n=2000, n_test=2000)
    full = s["full rank, class prompts"]
    assert np.abs(full["effect_with"]).max() == 0 and np.allclose(full["weight_annotated"], full["weight_unannotated"])
    trunc = s["rank 13, class prompts"]
    assert trunc["weight_annotated"][0] > trunc["weight_unannotated"][0]


@pytest.mark.parametrize("call, name", [
    (lambda: xc.calibrated_data("cifar"), "dataset"),
    (lambda: xc.calibrated_data(p_color=1.5), "p_color"),
    (lambda: xc.calibrated_data(pixel_noise=0), "pixel_noise"),
    (lambda: xc.calibrated_data(cue_noise=0.0), "cue_noise"),
    (lambda: xc.calibrated_robustness(0, "digits", profile="huge"), "profile"),
    (lambda: xc.ingredient_study((0,), ingredients=["magic"]), "ingredient"),
    (lambda: xc.ingredient_study(()), "seeds"),
    (lambda: xc.logit_effective_robustness(0, shift="correlated"), "shift"),
    (lambda: xue.feature_sharing((0,), switches=["rank 2"]), "switch"),
    (lambda: xue.test_probability("id", 1.5), "p_train"),
    (lambda: xue.linear_accuracy(1.0, 0.5, p_test=2, sigma_core=1.0, sigma_spu=0.1), "p_test"),
    (lambda: xue.linear_accuracy(1.0, 0.5, p_test=0.5, sigma_core=0.0, sigma_spu=0.1), "sigma_core"),
    (lambda: xue.supervised_weights(sigma_core=0.0), "sigma_core"),
    (lambda: xue.supervised_weights(p_train=1.0), "p_train"),
    (lambda: xue.closed_form("supervised", sigma_core=0.0), "sigma_core"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()
