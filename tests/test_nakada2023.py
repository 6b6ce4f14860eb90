"""Nakada et al. 2023: the spiked model, the SVD identities, rates and regimes (scaled down to stay fast)."""

import numpy as np
import pytest

from mmcl_core.data.synthetic import sparse_basis, spiked_model
from mmcl_core.experiments import nakada2023 as nakada
from mmcl_core.experiments.real_data import binomial_band


def test_spiked_model_wrong_pairs_and_mismatch_models():
    rng = np.random.default_rng(0)
    d = spiked_model(4000, 10, 8, 2, eps=0.3, mismatch="permute", rng=rng)
    lo, hi = binomial_band(0.3, 4000)
    assert lo <= d["wrong"].mean() <= hi
    wrong = np.flatnonzero(d["wrong"])
    assert not np.any(np.all(d["Y"][wrong] == d["Y_true"][wrong], axis=1))  # a derangement: no pair kept
    assert np.array_equal(d["Y"][~d["wrong"]], d["Y_true"][~d["wrong"]])
    r = spiked_model(4000, 10, 8, 2, eps=0.3, mismatch="redraw", rng=rng)
    assert not np.any(np.isin(r["Y"][r["wrong"]][:, 0], r["Y_true"][:, 0]))


def test_population_cross_covariance_shrinks_by_one_minus_eps():
    d = spiked_model(200000, 6, 5, 2, noise_std=0.5, eps=0.4, rng=np.random.default_rng(1))
    C = d["X"].T @ d["Y"] / len(d["X"])
    np.testing.assert_allclose(C, 0.6 * d["U1"] @ d["U2"].T, atol=0.02)


def test_sparse_basis_and_heteroskedastic_noise():
    U = sparse_basis(40, 4, 2, np.random.default_rng(0))
    np.testing.assert_allclose(U.T @ U, np.eye(4), atol=1e-12)
    assert np.all((U != 0).sum(0) == 2)
    d = spiked_model(10, 40, 40, 4, noise_var_range=(0.1, 2.0), coherence="sparse", rng=np.random.default_rng(0))
    assert 0.1 <= d["noise_var_a"].min() and d["noise_var_a"].max() <= 2.0 and d["noise_var_a"].std() > 0.1
    with pytest.raises(ValueError, match="sparsity"):
        sparse_basis(5, 3, 2, np.random.default_rng(0))


@pytest.mark.parametrize("kwargs,match", [({"eps": 1.0}, "eps"), ({"mismatch": "swap"}, "mismatch"),
                                          ({"coherence": "dense"}, "coherence"), ({"noise_std": -1.0}, "noise_std"),
                                          ({"rank": 9}, "dim_a")])
def test_spiked_model_rejects_bad_arguments(kwargs, match):
    args = dict(n_pairs=10, dim_a=8, dim_b=8, rank=2, rng=np.random.default_rng(0))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        spiked_model(**args)


@pytest.fixture(scope="module")
def small():
    return spiked_model(120, 12, 10, 3, noise_std=0.5, rng=np.random.default_rng(0))


def test_factor_gd_reaches_the_svd_solution_and_its_loss(small):
    gd = nakada.factor_gd_linear(small["X"], small["Y"], 3, 1.0, lr=0.2, steps=3000)
    assert gd["rel_error"] <= 1e-6 and gd["loss_rel_gap"] <= 1e-8
    sol = nakada.linear_solution(small["X"], small["Y"], 3, rho=2.0)
    assert sol["min_loss"] == pytest.approx(-np.sum(sol["singular_values"] ** 2) / 4)


def test_iterated_svd_matches_factor_gd_and_the_full_step_oscillates(small):
    X, Y = small["X"], small["Y"]
    it = nakada.projected_gd_clip(X, Y, 3, rho=1.0, temperature=0.5, eta=0.1, steps=400)
    fac = nakada.factor_gd_clip(X, Y, 3, rho=1.0, temperature=0.5, lr=0.05, steps=3000)
    assert it["converged"] and np.linalg.norm(fac["M"] - it["M"]) / np.linalg.norm(it["M"]) <= 1e-6
    assert fac["objective"] == pytest.approx(it["objective"][-1], rel=1e-10)
    full = nakada.projected_gd_clip(X, Y, 3, rho=1.0, temperature=0.5, eta=1.0, steps=60)
    assert not full["converged"] and full["step_norms"][-10:].min() > 1e-3


def test_clip_objective_matches_torch_loss(small):
    import torch

    from mmcl_core.losses import clip_loss

    M = np.random.default_rng(1).standard_normal((12, 10)) * 0.2
    expected = 0.7 * float(clip_loss(torch.as_tensor(small["X"] @ M), torch.as_tensor(small["Y"]), 0.7))
    assert nakada.clip_objective(small["X"], small["Y"], M, 0.7, 0.0) == pytest.approx(expected, rel=1e-12)


def test_rate_and_wrong_pair_factor_on_a_small_model():
    rates = nakada.rate_curves((1000, 4000, 16000), (0.0, 0.5), seeds=(0, 1, 2), dim_a=30, dim_b=30, rank=3,
                               coherence="haar", noise_var_range=(0.1, 3.0))
    assert -0.6 <= rates["slope"][0] <= -0.4
    assert abs(rates["ratio"][1] / rates["ratio_theory"][1] - 1) <= 0.25


def test_masking_cl_matches_its_diagonal_deletion_expectation():
    X = spiked_model(20000, 20, 20, 3, noise_var_range=(0.1, 2.0), rng=np.random.default_rng(2))["X"]
    from mmcl_core.spectral import sin_theta_distance

    explicit = nakada.masking_cl(X, 3, n_masks=40, rng=np.random.default_rng(0))
    assert sin_theta_distance(explicit, nakada.diagonal_deletion(X, 3)) < 0.15


def test_coherent_regime_ordering():
    comp = nakada.compare_methods((1000,), (0.0, 0.5), seeds=(0, 1, 2))
    assert comp["mmcl"][0, 0] < comp["unimodal"][0] and comp["mmcl"][0, 0] < comp["pca"][0]
    assert comp["mmcl"][1, 0] < comp["unimodal"][0]


def test_panels_are_fast_closed_forms():
    import time

    nakada.recovery_panel(n=200), nakada.svd_step_panel(steps=2)  # warm up: first imports (cold .pyc in a fresh venv)
    start = time.perf_counter()
    out = nakada.recovery_panel()
    steps = nakada.svd_step_panel(eta=1.0)
    assert time.perf_counter() - start < 1.0
    assert set(out) >= {"mmcl", "unimodal", "pca"} and not steps["converged"]
    with pytest.raises(ValueError, match="unimodal"):
        nakada.recovery_error(100, 0.0, unimodal="autoencoder")


def test_unpaired_sweep_small_is_deterministic_and_seed_separable():
    kw = dict(n_pairs=100, n_test=300, paired_epochs=20, unpaired_epochs=10, device="cpu")
    a = nakada.unpaired_sweep((200,), seeds=(0, 1), **kw)
    b = nakada.unpaired_sweep((200,), seeds=(0, 1), **kw)
    for key in ("paired_acc", "unpaired_acc", "pseudo_pair_precision"):
        assert np.array_equal(a[key], b[key])
    alone = nakada.unpaired_sweep((200,), seeds=(1,), **kw)  # seed 1's data and init do not depend on seed 0
    np.testing.assert_allclose(alone["paired_acc"][0, 0], a["paired_acc"][0, 1], atol=0.02)
    assert 0 <= a["pseudo_pair_precision"].min() and a["pseudo_pair_precision"].max() <= 1
    assert a["paired_acc"].min() > 0.01  # far above chance (1/300)


@pytest.mark.slow  # experiment scale (seconds): the full tier runs it
def test_unpaired_data_helps_in_the_official_setting_at_large_n():
    res = nakada.unpaired_sweep((3000,), seeds=(0, 1), n_test=2000, device="cpu")
    assert res["unpaired_acc"].mean() - res["paired_acc"].mean() >= 0.1
    assert res["pseudo_pair_precision"].mean() >= 0.85


def test_shuffled_unpaired_batches_make_detection_harder():
    kw = dict(seeds=(0,), n_test=500, paired_epochs=100, unpaired_epochs=5, device="cpu")
    aligned = nakada.unpaired_sweep((1000,), aligned_batches=True, **kw)
    shuffled = nakada.unpaired_sweep((1000,), aligned_batches=False, **kw)
    assert shuffled["pseudo_pair_precision"][0, 0] < aligned["pseudo_pair_precision"][0, 0]


def test_unpaired_synthetic_returns_the_three_numbers():
    out = nakada.unpaired_synthetic(100, seed=0, n_pairs=100, paired_epochs=5, unpaired_epochs=2, device="cpu")
    assert set(out) == {"paired_acc", "unpaired_acc", "pseudo_pair_precision", "comparable_with_official"}
    assert out["comparable_with_official"] is True  # 10,000 test pairs in both profiles
    small = nakada.unpaired_synthetic(100, seed=0, n_pairs=100, paired_epochs=5, unpaired_epochs=2, device="cpu",
                                      n_test=500)
    assert small["comparable_with_official"] is False
    with pytest.raises(ValueError, match="pseudo_pair_rule"):
        nakada.unpaired_sweep((100,), seeds=(0,), pseudo_pair_rule="hungarian")


def test_linear_proxy_imperfect_pseudo_pairs_still_help():
    res = nakada.unpaired_linear_proxy((0, 1000, 5000), seeds=(0, 1, 2))
    mean = res["sin_theta"].mean(1)
    assert mean[0] > mean[1] > mean[2]
    assert np.nanmean(res["precision"]) < 0.8  # far from perfect detection ...
    assert np.all(res["oracle"].mean(1)[1:] <= mean[1:])  # ... and the oracle is better still


def test_class_paired_modalities_share_only_the_class():
    d = nakada.class_paired_modalities(0)
    assert {k: len(v["labels"]) for k, v in d.items()} == {"paired": 100, "val": 100, "unpaired": 1147, "test": 450}
    assert d["paired"]["a"].shape == (100, 16) and d["paired"]["b"].dtype == np.float32
    # Same class, different images: modality B is not a function of modality A's own image.
    again = nakada.class_paired_modalities(0)
    assert np.array_equal(again["test"]["a"], d["test"]["a"])


def test_semi_supervised_proxy_oracle_beats_paired_only():
    res = nakada.semi_supervised_proxy(0, paired_epochs=60, unpaired_epochs=20)
    assert res["oracle_max"] > res["paired_max"] + 0.05
    assert 0.0 <= res["teacher_repeat"] <= 1.0 and len(res["semi"]) == 20
    assert res["paired_max"] > 0.3  # far above chance (0.1)


def test_semi_supervised_pair_rules_and_precision():
    study = nakada.semi_supervised_study((0,), paired_epochs=60, unpaired_epochs=10)
    rules = study["rules"]
    assert set(rules) == set(nakada.SEMI_PAIR_RULES) and study["paired"].shape == (1, 60)
    for res in rules.values():
        assert res["precision"].shape == (1, 10) and np.all((res["precision"] > 0.3) & (res["precision"] <= 1))
    # The mutual filter keeps more reliable pairs than plain argmax ...
    assert rules["mutual"]["precision"].mean() > rules["argmax"]["precision"].mean()
    # ... but only the official transposed indexing (fresh same-class pairs) lifts accuracy clearly.
    assert rules["transposed"]["semi_max"][0] > rules["argmax"]["semi_max"][0] + 0.03
    # One rule through the single-seed entry point gives the same numbers (rules share phase 1 and batch order).
    one = nakada.semi_supervised_proxy(0, paired_epochs=60, unpaired_epochs=10, pair_rule="transposed")
    assert np.array_equal(one["semi"], rules["transposed"]["semi"][0])
    assert np.array_equal(one["oracle"], study["oracle"][0])
    view = nakada.semi_lookup(study, "mutual")
    assert view["semi_max"] == rules["mutual"]["semi"].mean(0).max() and view["pair_rule"] == "mutual"
    with pytest.raises(ValueError, match="pair_rule"):
        nakada.semi_lookup(study, "bogus")
    with pytest.raises(ValueError, match="pair_rule"):
        nakada.semi_supervised_proxy(0, paired_epochs=1, unpaired_epochs=1, pair_rule="bogus")


def test_linear_proxy_panel_and_row_argmax_rule():
    fast = nakada.linear_proxy_panel(n_unpaired=2000, pseudo_pair_rule="row_argmax")
    assert fast["oracle"] < fast["pseudo"] < fast["paired_only"] and 0.3 < fast["precision"] < 1
    top_b = nakada.linear_proxy_panel(n_unpaired=2000)
    assert top_b["paired_only"] == fast["paired_only"] and top_b["pseudo"] < top_b["paired_only"]
    with pytest.raises(ValueError, match="pseudo_pair_rule"):
        nakada.linear_proxy_panel(pseudo_pair_rule="best")
    with pytest.raises(ValueError, match="noise_std"):
        nakada.linear_proxy_panel(noise_std=0.0)


def test_unpaired_lookup_reads_one_cell():
    sweep = {"n_unpaired": np.array([500, 1000]), "paired_acc": np.array([[0.1, 0.2], [0.3, 0.4]]),
             "unpaired_acc": np.array([[0.5, 0.6], [0.7, 0.8]]), "pseudo_pair_precision": np.ones((2, 2))}
    cell = nakada.unpaired_lookup({"global_top_b": sweep}, 1000)
    assert np.array_equal(cell["unpaired_acc"], [0.7, 0.8]) and cell["settings"]["n_unpaired"] == 1000
    with pytest.raises(ValueError, match="n_unpaired must be one of"):
        nakada.unpaired_lookup({"global_top_b": sweep}, 700)
    with pytest.raises(ValueError, match="pseudo_pair_rule"):
        nakada.unpaired_lookup({"global_top_b": sweep}, 500, "row_argmax")


def test_the_e1_setting_is_one_frozen_validated_object():
    import dataclasses

    setting = nakada.E1Setting()
    assert (setting.n_pairs, setting.batch_size, setting.pseudo_pair_rule) == (300, 50, "global_top_b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setting.lr = 0.1
    for kwargs, name in ((dict(batch_size=1), "batch_size"), (dict(rank=50), "dim_a"), (dict(lr=0.0), "lr"),
                         (dict(pseudo_pair_rule="best"), "pseudo_pair_rule")):
        with pytest.raises(ValueError, match=name):
            nakada.E1Setting(**kwargs)
    with pytest.raises(TypeError, match="aligned_batches"):
        nakada.E1Setting(aligned_batches="yes")
    with pytest.raises(TypeError, match="unknown settings"):
        nakada.unpaired_sweep((100,), (0,), n_pair=10)
