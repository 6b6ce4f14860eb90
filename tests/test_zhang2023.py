"""Zhang et al. 2023: finite-model identities, closed forms and the style-confounded reference numbers."""

import numpy as np
import pytest

from mmcl_core.experiments import zhang2023 as zhang
from mmcl_core.graphs import check_graph, graph_summary, induced_image_graph, spectral_features, weighted_probe_error
from mmcl_core.spectral import normalized_cooccurrence


def test_style_confounded_defaults_match_the_reference_numbers():
    out = zhang.style_confounded()
    assert set(out["sscl"]) >= {"phi", "diversity", "lambda_r1", "bound", "probe_error"}
    assert out["sscl"]["phi"] == pytest.approx(0.185, abs=1e-3)
    assert out["sscl"]["lambda_r1"] == pytest.approx(0.2775, abs=1e-3)
    assert out["sscl"]["probe_error"] == pytest.approx(0.667, abs=1e-3)
    assert out["mmcl"]["phi"] == pytest.approx(0.065, abs=1e-3)
    assert out["mmcl"]["lambda_r1"] == pytest.approx(1.0, abs=1e-3)
    assert out["mmcl"]["probe_error"] == pytest.approx(0.0, abs=1e-9)
    assert out["mmcl"]["diversity"] > out["sscl"]["diversity"]
    assert out["mmcl"]["diversity"] == pytest.approx(0.922, abs=1e-3)
    assert out["sscl"]["diversity"] == pytest.approx(0.286, abs=1e-3)


def test_captions_naming_the_nuisance_lose_the_gap():
    out = zhang.style_confounded(q_style=1.0)["mmcl"]
    assert out["lambda_r1"] == pytest.approx(0.0975, abs=1e-3)
    assert out["probe_error"] == pytest.approx(2 / 3, abs=1e-3)


def test_sscl_without_cross_class_augmentation_is_fine():
    out = zhang.style_confounded(aug_style=0.0, aug_cls=0.2)["sscl"]
    assert out["probe_error"] < 1e-9


@pytest.mark.parametrize("bound", ["4alpha/lambda", "4alpha/lambda+8alpha"])
def test_bound_variants_are_looser_and_valid(bound):
    base = zhang.style_confounded()
    other = zhang.style_confounded(bound=bound)
    for name in ("sscl", "mmcl"):
        assert other[name]["bound"] >= base[name]["bound"] - 1e-12
        assert other[name]["probe_error"] <= other[name]["bound"]


@pytest.mark.parametrize("r", [2, 3, 5])
@pytest.mark.parametrize("eps", [0.0, 0.05, 0.3, 0.6])
def test_class_noise_closed_forms(r, eps):
    cn = zhang.class_noise_model(r, eps, n_instances=3, n_templates=2)
    W = induced_image_graph(cn["P"])
    phi = np.sum(W * (cn["image_labels"][:, None] != cn["image_labels"][None, :]))
    assert phi == pytest.approx(zhang.class_noise_phi(r, eps), abs=1e-10)
    sv = np.linalg.svd(normalized_cooccurrence(cn["P"]), compute_uv=False)
    np.testing.assert_allclose(sv[:r], np.r_[1.0, np.full(r - 1, 1 - eps)], atol=1e-10)
    assert np.all(sv[r:] < 1e-10)
    assert zhang.class_noise_phi(3, 0.05) == pytest.approx(0.065, abs=1e-4)


def test_noiseless_label_captions_give_zero_bound_and_full_gap():
    cn = zhang.class_noise_model(3, 0.0)
    s = graph_summary(induced_image_graph(cn["P"]), cn["image_labels"], 3)
    assert s["bound"] == 0.0 and s["lambda_r1"] == pytest.approx(1.0) and s["probe_error"] == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_factorisation_identity_and_closed_form_minimum(seed):
    rng = np.random.default_rng(seed)
    P = zhang.random_joint(12, 9, rng)
    assert zhang.factorisation_gap(P, rng.standard_normal((12, 3)), rng.standard_normal((9, 3))) < 1e-10
    opt = zhang.optimal_embeddings(P, 3)
    assert zhang.spectral_loss(P, opt["F_V"], opt["F_L"]) == pytest.approx(opt["min_loss"], abs=1e-12)
    Q = rng.standard_normal((3, 3))
    assert zhang.spectral_loss(P, opt["F_V"] @ Q, opt["F_L"] @ np.linalg.inv(Q).T) == pytest.approx(opt["min_loss"])
    for _ in range(5):  # nothing beats the closed form
        assert zhang.spectral_loss(P, rng.standard_normal((12, 3)), rng.standard_normal((9, 3))) > opt["min_loss"]
    assert np.allclose(opt["F_V"][:, 0] * np.sign(opt["F_V"][0, 0]), 1.0)  # first feature is the constant 1


def test_gradient_descent_and_sgd_reach_the_minimum_and_subspace():
    P = zhang.random_joint(30, 20, np.random.default_rng(0))
    gd = zhang.train_spectral_tables(P, 4, steps=3000, lr=0.3)
    assert gd["rel_gap"] <= 1e-3 and gd["overlap"] >= 4 - 1e-3
    sgd = zhang.train_spectral_tables(P, 4, steps=4000, lr=0.1, batch_size=4096)
    assert sgd["rel_gap"] <= 1e-3 and sgd["overlap"] >= 4 - 1e-2


def test_infonce_optimum_differs_from_the_svd_subspace_but_separates_classes():
    P = zhang.random_joint(30, 20, np.random.default_rng(0))
    assert zhang.train_infonce_tables(P, 4, 0.5, steps=800)["residual"] > 0.05
    sm = zhang.style_confounded_model()
    run = zhang.train_infonce_tables(sm["P"], 3, 0.5, steps=800)
    assert weighted_probe_error(run["F_V"], sm["labels"], sm["P"].sum(1)) < 1e-6


def test_mmcl_is_sscl_on_text_induced_pairs():
    rng = np.random.default_rng(3)
    P = zhang.random_joint(25, 15, rng)
    out = zhang.mmcl_sscl_equivalence(P, rng.integers(0, 4, 25), 5)
    assert out["eig_error"] < 1e-10 and out["sin_theta"] < 1e-8
    assert out["probe_error_mmcl"] == pytest.approx(out["probe_error_sscl"], abs=1e-12)


def test_bound_is_valid_on_random_labelled_instances():
    out = zhang.bound_validity(1000, seed=1)
    assert out["valid_fraction"] == 1.0
    assert 0 < out["worst_ratio"] <= 1 and out["n_informative"] > 100


def test_induced_graph_is_a_symmetric_distribution_with_marginal_p_v():
    P = zhang.random_joint(7, 5, np.random.default_rng(2))
    W = check_graph(induced_image_graph(P))
    np.testing.assert_allclose(W.sum(1), P.sum(1), atol=1e-15)
    spec = spectral_features(W, 2)
    assert spec["eigenvalues"][0] == pytest.approx(1.0)


def test_weighted_probe_error_on_analytic_cases():
    features = np.array([[0.0], [0.0], [1.0], [1.0]])
    assert weighted_probe_error(features, np.array([0, 0, 1, 1]), np.ones(4)) == 0.0
    # Features that cannot separate: a least-squares probe predicts the heavier class everywhere.
    assert weighted_probe_error(np.zeros((4, 1)), np.array([0, 0, 0, 1]), np.ones(4)) == 0.25


@pytest.mark.parametrize("kwargs,match", [({"n_classes": 1}, "n_classes must"), ({"eps": 1.5}, "eps"),
                                          ({"q_style": -0.1}, "q_style"),
                                          ({"aug_style": 0.8, "aug_cls": 0.5}, "aug_cls"), ({"rank": 0}, "rank must"),
                                          ({"bound": "3phi"}, "bound")])
def test_style_confounded_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        zhang.style_confounded(**kwargs)


def test_graph_checks_reject_bad_graphs():
    with pytest.raises(ValueError, match="symmetric"):
        check_graph(np.array([[0.5, 0.3], [0.1, 0.1]]))
    with pytest.raises(ValueError, match="sum to 1"):
        check_graph(np.eye(2))
    with pytest.raises(ValueError, match="alpha"):
        graph_summary(np.eye(2) / 2, np.array([0, 1]), 1, bound="4alpha/lambda")


def test_bound_holds_along_eps_and_k_sweeps():
    sweep = zhang.bound_sweep()
    assert sweep["valid"]
    assert sweep["mmcl"]["probe_error"][:, 2].max() < 1e-9  # MMCL exact at k = r for every eps < (r-1)/r


def test_zero_gap_makes_the_bound_vacuous_not_zero():
    cn = zhang.class_noise_model(3, 0.0)  # three disconnected class blocks: lambda_2 = 0 and phi = 0
    s = graph_summary(induced_image_graph(cn["P"]), cn["image_labels"], 1)
    assert s["lambda_r1"] < 1e-9 and s["bound"] == np.inf and s["probe_error"] > 0


def test_result_f_text_side_and_the_alpha_form_hold_and_differ_from_2phi():
    for side in ("image", "text"):
        for bound in ("2phi/lambda", "4alpha/lambda"):
            res = zhang.bound_validity(200, seed=1, bound=bound, side=side)
            assert res["valid_fraction"] == 1.0 and res["n_informative"] > 0, (side, bound)
    two_phi = zhang.bound_validity(200, seed=1, side="text")["bound"]
    four_alpha = zhang.bound_validity(200, seed=1, bound="4alpha/lambda", side="text")["bound"]
    assert not np.allclose(two_phi, four_alpha)  # alpha is measured, not phi / 2
    with pytest.raises(ValueError, match="side"):
        zhang.bound_validity(10, side="caption")


def test_style_confounded_alpha_is_the_label_disagreement_of_the_pairs():
    res = zhang.style_confounded(bound="4alpha/lambda")
    assert res["mmcl"]["alpha"] == pytest.approx(0.05 * 2 / 3)  # eps (r - 1) / r: a caption names another class
    for name in ("sscl", "mmcl"):
        assert res[name]["phi"] <= 2 * res[name]["alpha"] + 1e-12
        assert res[name]["bound"] == pytest.approx(4 * res[name]["alpha"] / res[name]["lambda_r1"])
