"""The start-here experiment functions behind notebook 00."""

import numpy as np
import pytest

from mmcl_core.experiments import start_here


def test_identity_checks_hold_across_seeds_and_temperatures():
    for seed in range(3):
        for temperature in (0.05, 0.3, 3.0):
            checks = start_here.identity_checks(temperature=temperature, seed=seed)
            assert checks["gradient_rel_error"] <= 1e-8
            assert checks["uniform_weight_error"] <= 1e-12
            assert checks["zero_m_covariance_rel_error"] <= 1e-10


def test_svd_view_is_deterministic_and_finite_at_extreme_temperatures():
    a, b = start_here.svd_view(seed=4), start_here.svd_view(seed=4)
    for key in ("beta", "S", "singular_values"):
        assert np.array_equal(a[key], b[key])
    for temperature in (1e-4, 1e4):
        view = start_here.svd_view(temperature=temperature)
        assert all(np.isfinite(np.asarray(view[k])).all() for k in ("beta", "S", "singular_values"))
        assert np.isfinite(view["offdiag_weight_entropy"])


def test_sweep_reaches_the_linear_loss_limit_with_uniform_weights():
    sweep = start_here.temperature_sweep(temperatures=[0.1, 1.0, 1e4])
    assert sweep["linear_gap"][-1] <= 1e-3 < sweep["linear_gap"][0]
    assert abs(sweep["weight_entropy"][-1] - sweep["max_entropy"]) <= 1e-6
    assert sweep["weight_entropy"][0] < sweep["max_entropy"] - 0.1


def test_zero_similarity_scale_gives_uniform_weights_at_any_temperature():
    view = start_here.svd_view(similarity_scale=0.0, temperature=0.01)
    n = view["beta"].shape[0]
    off = view["beta"][~np.eye(n, dtype=bool)]
    np.testing.assert_allclose(off, 1.0 / n, atol=1e-15)


def test_cooccurrence_spectrum_top_is_one():
    for seed in range(10):
        s = start_here.cooccurrence_spectrum(5, 7, seed=seed)
        assert abs(s[0] - 1) <= 1e-12 and s[-1] >= -1e-12


@pytest.mark.parametrize("kwargs,match", [({"temperature": -1}, "temperature"), ({"n_pairs": 1}, "n_pairs"),
                                          ({"rank": 20}, "dim_a"), ({"noise_std": -0.1}, "noise_std"),
                                          ({"similarity_scale": float("nan")}, "similarity_scale"),
                                          ({"seed": -3}, "seed")])
def test_svd_view_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        start_here.svd_view(**kwargs)


def test_temperature_sweep_rejects_bad_grid():
    with pytest.raises(ValueError, match="temperatures"):
        start_here.temperature_sweep(temperatures=[0.1, -1.0])
