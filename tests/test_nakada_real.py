"""Nakada et al. on MNIST-5k <-> digits: splits, pseudo-pair precision, the noisy graph, the sqrt(d) law."""

import numpy as np
import pytest

from mmcl_core.experiments import nakada2023 as nakada
from mmcl_core.experiments import nakada2023_graph as graph
from mmcl_core.experiments import nakada2023_real as real


def test_modalities_are_class_paired_disjoint_and_the_pools_unpaired():
    d = real.mnist_digits_modalities(0)
    for name in ("paired", "val", "test"):
        assert d[name]["a"].shape[1] == d[name]["b"].shape[1] == 16
        assert len(d[name]["a"]) == len(d[name]["b"]) == len(d[name]["labels"])
    assert len(d["paired"]["a"]) == 100 and len(d["val"]["a"]) == 100 and len(d["test"]["a"]) == 400
    pool = d["unpaired"]
    assert len(pool["a"]) == len(pool["b"]) > 1000  # matched pool
    assert np.bincount(pool["b_labels"], minlength=10).min() > 100
    large = real.mnist_digits_modalities(0, pool="large")["unpaired"]
    assert len(large["a"]) > 3 * len(large["b"])
    again = real.mnist_digits_modalities(0)
    assert np.array_equal(again["paired"]["a"], d["paired"]["a"])


def test_controlled_pairs_have_the_asked_precision():
    d = real.mnist_digits_modalities(0)["unpaired"]
    for p in (0.0, 0.3, 1.0):
        ia, ib = real._controlled_pairs(d["a_labels"], d["b_labels"], p, np.random.default_rng(0))
        precision = np.mean(d["a_labels"][ia] == d["b_labels"][ib])
        assert abs(precision - p) < 0.04, (p, precision)


def test_sqrt_d_law_slope_is_about_one_half():
    law = graph.sqrt_d_law((25, 50, 100, 200), seeds=(0,), n=4000)
    assert 0.4 <= law["slope"] <= 0.6, law


def test_coclustering_recovers_a_lightly_noised_class_graph():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 20)
    truth = (y[:, None] == y[None, :]).astype(float)
    denoised = graph._cocluster(graph._flip(truth, 0.1, rng), 10, 0)
    assert (denoised == truth).mean() > 0.95


def test_coclustering_needs_k_minus_1_singular_vectors_at_high_flip_rates():
    """At p = 0.3 on the E2 graph (50 per class), the released recipe's k - 1 vectors recover the classes; the
    ceil(log2 k) = 4 of Dhillon's original recipe merge some of them."""
    study = graph.coclustering_precision(flips=(0.3,), seeds=(0, 1), n_vectors=(4, 9))
    assert study["precision"].shape == (2, 2, 1)
    assert np.all(study["precision"][:, 1] > 0.95) and np.all(study["precision"][:, 0] < 0.85), study["precision"]


@pytest.mark.parametrize("call, name", [
    (lambda: nakada.class_paired_modalities(n_pairs=-1), "n_pairs"),
    (lambda: nakada.class_paired_modalities(n_pairs=1000, n_val=500), "n_pairs"),
    (lambda: real.mnist_digits_modalities(n_pairs=15), "n_pairs"),
    (lambda: graph.noisy_graph_study((0,), flips=(0.1,), n_vectors=0), "n_vectors"),
    (lambda: graph.coclustering_precision(flips=(0.7,)), "flip"),
    (lambda: real.mnist_digits_modalities(n_pairs=1800), "n_pairs"),
    (lambda: real.mnist_digits_modalities(pool="huge"), "pool"),
    (lambda: real.real_unpaired_study((0,), rule="magic"), "rule"),
    (lambda: real.real_unpaired_study((0,), profile="slow"), "profile"),
    (lambda: real.real_unpaired_study((0,), epochs=3), "unknown"),
    (lambda: real.gain_vs_precision((1.5,), (0,)), "precision"),
    (lambda: real.gain_vs_precision((-0.1,), (0,)), "precision"),
    (lambda: graph.noisy_graph_study((0,), flips=(0.7,)), "flip"),
    (lambda: graph.sqrt_d_law((10,)), "dims"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()
