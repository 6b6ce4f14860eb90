"""Xue et al. 2024 (reconstructed model): closed forms P1-P4 against simulation, and the acceptance numbers."""

import numpy as np
import pytest
from scipy.stats import norm

from mmcl_core.experiments import xue2024 as xue
from mmcl_core.spectral import cross_covariance

# Closed-form reference values of model B, computed independently of this package when the suite was built
# (mu_core = mu_spu = 1, sigma_spu = 0.1, p_train = 0.9): accuracy in distribution / independent cue / flipped cue.
REFERENCE = {("mmcl", 1.0): (0.900, 0.822, 0.745), ("mmcl", 2.0): (0.713, 0.691, 0.668),
             ("mmcl_label_only", 2.0): (0.788, 0.678, 0.567), ("supervised", 1.0): (0.929, 0.721, 0.513),
             ("supervised", 2.0): (0.901, 0.522, 0.143), ("supervised", 3.0): (0.900, 0.501, 0.102)}


@pytest.mark.parametrize("key", REFERENCE, ids=str)
def test_closed_form_matches_the_reference_table(key):
    res = xue.closed_form(key[0], key[1])
    assert np.allclose([res["id"], res["ood_independent"], res["ood_flipped"]], REFERENCE[key], atol=6e-4)


def test_linear_accuracy_matches_monte_carlo():
    rng = np.random.default_rng(0)
    n, p_test, sc, ss = 400_000, 0.3, 1.5, 0.4
    y = rng.choice([-1.0, 1.0], n)
    a = np.where(rng.random(n) < p_test, y, -y)
    z_core, z_spu = y + sc * rng.standard_normal(n), a + ss * rng.standard_normal(n)
    w_c, w_s = 0.7, 1.3
    mc = np.mean(np.sign(w_c * z_core + w_s * z_spu) == y)
    assert abs(xue.linear_accuracy(w_c, w_s, p_test=p_test, sigma_core=sc, sigma_spu=ss) - mc) < 3e-3


def test_cross_covariance_is_the_pairwise_linear_loss_form():
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((30, 4)), rng.standard_normal((30, 3))
    n = len(x)
    pairwise = x.T @ t / n - (x.sum(0)[:, None] * t.sum(0)[None] - x.T @ t) / (n * (n - 1))
    assert np.allclose(cross_covariance(x, t), pairwise, atol=1e-12)
    M = xue.fit_mmcl(x, t, rank=2, rho=2.0)
    loss = lambda m: -np.sum(m * pairwise) + np.sum(m ** 2)  # noqa: E731  (rho / 2 = 1)
    s = np.linalg.svd(pairwise, compute_uv=False)
    assert abs(loss(M) + (s[0] ** 2 + s[1] ** 2) / 4) < 1e-12  # -sum_k<=r sigma_k^2 / (2 rho)
    assert np.linalg.matrix_rank(M) == 2


def test_simulation_matches_closed_form_and_weights():
    for method in xue.METHODS:
        sim = xue.model_b_accuracy(method, closed_form=False, n=5000, n_test=20000)
        cf = xue.model_b_accuracy(method)
        for key in ("id", "ood_independent", "ood_flipped"):
            assert abs(sim[key] - cf[key]) <= 0.03, (method, key, sim[key], cf[key])
    w = xue.evaluate("mmcl", sigma_core=2.0)
    assert abs(w["w_core"] / 5.0 - 1) < 0.1 and abs(w["w_spu"] / 0.8 - 1) < 0.15  # P1: (1 + 4, 0.8)


def test_default_acceptance_numbers_and_regime_boundary():
    mm, sl = xue.closed_form("mmcl", 2.0), xue.closed_form("supervised", 2.0)
    assert mm["ood_flipped"] >= 0.64 and sl["ood_flipped"] <= 0.20
    assert abs(mm["ood_independent"] - norm.cdf(1 / 2.0)) <= 0.02
    for sc in (1.0, 2.0, 3.0):
        assert xue.closed_form("mmcl", sc)["ood_flipped"] - xue.closed_form("supervised", sc)["ood_flipped"] >= 0.2
    boundary_mm, boundary_sl = xue.closed_form("mmcl", 0.5), xue.closed_form("supervised", 0.5)
    assert boundary_sl["ood_flipped"] >= boundary_mm["ood_flipped"]  # supervised wins for a tight core
    assert boundary_sl["ood_independent"] >= boundary_mm["ood_independent"]


def test_richness_is_monotone_and_annotation_is_invisible_at_full_rank():
    rich = xue.richness_sweep(simulate=False)["closed"]["ood_flipped"]
    assert np.all(np.diff(rich) >= 0) and rich[-1] - rich[0] >= 0.08
    same = xue.annotation_invariance(n=3000, n_test=5000, fresh_samples=False)
    assert same["max_change"] == 0.0  # shared draws: the derivation (prompt reads the core column only)
    inv = xue.annotation_invariance()  # independent samples per setting (n = 5000, 20,000 test): could fail
    assert inv["max_change"] <= 0.01, inv


def test_weights_follow_the_mechanism():
    # P1/P2: raising sigma_core moves MMCL towards the core and the supervised weights towards the cue.
    mm = [np.divide(*xue.mmcl_weights(s)) for s in (0.5, 1, 2, 3)]
    sl = [np.divide(*xue.supervised_weights(s)) for s in (0.5, 1, 2, 3)]
    assert np.all(np.diff(mm) > 0) and np.all(np.diff(sl) < 0)


def test_k_class_model_shapes_and_mmcl_beats_supervised_adversarially():
    data = xue.k_class_model(500, n_classes=5, rng=np.random.default_rng(0))
    assert data["latent"].shape == (500, 20) and set(np.unique(data["y"])) == set(range(5))
    assert np.all(data["latent"][np.arange(500), data["y"]] != 0)  # core sits on the class's coordinate
    mm = xue.evaluate("mmcl", n_classes=5, n=3000, n_test=5000)
    sl = xue.evaluate("supervised", n_classes=5, n=3000, n_test=5000)
    assert mm["ood_flipped"] > sl["ood_flipped"] + 0.2


def test_evaluate_is_deterministic_and_prompts_work():
    a = xue.evaluate("mmcl", n=1000, n_test=2000, seed=3)
    assert a == xue.evaluate("mmcl", n=1000, n_test=2000, seed=3)
    b = xue.evaluate("mmcl", n=1000, n_test=2000, seed=3, prompt="mean_caption")
    assert 0.5 < b["ood_flipped"] <= 1


def test_infonce_small_run_is_deterministic_and_differs_from_linear_with_annotated_cue():
    configs = {"rich": {}, "rich_spu": {"q_spu": 1.0, "sigma_core": 1.0}}
    kw = dict(n=1000, n_test=2000, steps=200, batch_size=256, device="cpu")
    study = xue.infonce_study(configs, **kw)
    assert study == xue.infonce_study(configs, **kw)  # same seed, same numbers
    assert study["rich"]["infonce"]["ood_flipped"] > 0.6
    # With the cue annotated, InfoNCE "explains it away" (weight < 0): flipped beats in-distribution.
    spu = study["rich_spu"]["infonce"]
    assert spu["w_spu"] < 0 and spu["ood_flipped"] > spu["id"]
    assert xue.infonce_lookup(study, "rich")["config"] == "rich"


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(method="bogus"), ValueError, "method"),
    (dict(method="mmcl", sigma_core=0.0), ValueError, "sigma_core"),
    (dict(method="mmcl", p_train=1.0), ValueError, "p_train"),
    (dict(method="mmcl", q_core=1.5), ValueError, "q_core"),
    (dict(method="mmcl", test="shifted"), ValueError, "test"),
    (dict(method="mmcl", n=100), TypeError, "closed_form"),
])
def test_bad_input_names_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        xue.model_b_accuracy(**kwargs)


def test_effective_robustness_is_the_offset_above_the_baseline_line():
    ids = np.array([0.6, 0.7, 0.8])
    study = {"shifts": ["color:correlated", "color:adversarial"], "methods": ("supervised", "clip"),
             "accuracy": {"supervised": np.column_stack([ids, 2 * ids - 1.0]),
                          "clip": np.column_stack([ids, 2 * ids - 0.9])}}
    er = xue.effective_robustness(study, "color:adversarial")
    assert np.allclose(er["fits"]["supervised"], (2.0, -1.0)) and abs(er["effective_robustness"]["clip"] - 0.1) < 1e-12
    with pytest.raises(ValueError, match="shift"):
        xue.effective_robustness(study, "color:correlated")


def test_real_data_robustness_small_run():
    sets = xue.real_data_shift_sets()
    assert set(sets["sets"]) == {"color:correlated", "color:independent", "color:adversarial", "style:blur",
                                 "style:thicken", "style:rotate", "style:invert"}
    study = xue.real_data_robustness((0.5, 1.0), methods=("supervised", "clip_level0"), epochs=5, device="cpu")
    for acc in study["accuracy"].values():
        assert acc.shape == (2, 7) and acc[-1, 0] > 0.6  # well above chance in distribution
    again = xue.real_data_robustness((0.5, 1.0), methods=("supervised", "clip_level0"), epochs=5, device="cpu")
    assert all(np.array_equal(study["accuracy"][m], again["accuracy"][m]) for m in study["methods"])
    with pytest.raises(ValueError, match="method"):
        xue.real_data_robustness(methods=("clip_level9",))
