"""Huang et al. (NeurIPS 2024): multi-modal contrastive learning learns the signal where single-modal
contrastive learning memorises noise.

Two-patch data ``x = [y mu, xi]`` (image) and ``x~ = [y mu~, xi~]`` (text, ``||mu~|| = C_mu ||mu||``, ``mu~ _|_ mu``,
independent noises); one-hidden-layer ReLU encoders with weights shared across the two patches; the stop-gradient
InfoNCE of the paper (negatives of the opposite label); full-batch gradient descent (docs/papers/huang2024.md).

The data (:func:`draw_grams`) live in :mod:`mmcl_core.data.two_patch`, re-exported here. Every GD update lies in
span{mu, xi_1..xi_n} (the augmented noise enters only through stop-gradient factors), so the
weights are exactly ``w_h = w_h(0) + gamma_h mu/||mu||^2 + sum_i omega_hi xi_i/||xi_i||^2`` (the paper's signal-noise
decomposition, Eq. 11, whose gamma_r, rho_ri this project writes gamma_h, omega_hi: r is the rank, rho the weight
decay) and training needs only Gram matrices of the drawn vectors. Many models (seeds x settings) are
simulated at once as one batched tensor program; :func:`train_direct` is the d-dimensional autograd version used to
check it.
"""

from __future__ import annotations

import time

import numpy as np

from .._checks import check_choice, check_int, check_real
from ..data.two_patch import MODES, NU_DIRECTIONS, SAMPLERS, TwoPatchSetting, draw_grams
from ..probes import batched_logistic_probe as probe_accuracy
from ..train.two_patch import NEGATIVES, PROBES, train_batched, train_direct

__all__ = ["MODES", "NEGATIVES", "NU_DIRECTIONS", "PROBES", "SAMPLERS", "TwoPatchSetting", "PROOF_WINDOWS", "FIGURE1",
           "PHASE_VERSION", "n_snr2", "mu_norm_for", "stage1_theory", "draw_grams", "train_batched", "train_direct",
           "probe_accuracy", "figure1", "phase_point", "phase_points", "phase_diagram", "stage1_rates", "phase_lookup",
           "crossing", "COLORED_METHODS", "TABLE1", "colored_digits", "colored_digits_table", "colored_digits_summary",
           "CMNIST_METHODS", "colored_mnist_table", "colored_mnist_summary"]

PROOF_WINDOWS = {"single_fails_at_most": 1.8, "multi_succeeds_at_least": 1.7, "c_mu_above": 2.66}
"""The proofs' sufficient windows in n SNR^2 (Theorems 4.2 and 4.3 of the paper; docs/papers/huang2024.md): single-modal
training fails when n SNR^2 <= 1.8; multi-modal training succeeds when n SNR^2 >= 1.7 and C_mu > 2.66."""
# §6 of the paper; tau and sigma_0 (init_std) are not given there and follow the reference runs
FIGURE1 = dict(d=2000, n=100, n_test=200, m=50, lr=0.01, epochs=200, mu_norm=5.0, c_mu=3.0, noise_std=1.0,
               aug_std=0.1, nu_norm=2.0, temperature=0.1, init_std=0.01)


def n_snr2(n: int, mu_norm: float, noise_std: float, d: int) -> float:
    """The paper's control parameter n * SNR^2 = n ||mu||^2 / (noise_std^2 d)."""
    n, d = check_int("n", n, low=1), check_int("d", d, low=1)
    mu_norm = check_real("mu_norm", mu_norm, low=0.0)
    noise_std = check_real("noise_std", noise_std, low=0.0, low_open=True)
    return n * mu_norm ** 2 / (noise_std ** 2 * d)


def mu_norm_for(n_snr2_value: float, *, n: int, noise_std: float, d: int) -> float:
    """The signal norm ||mu|| that gives n * SNR^2 = ``n_snr2_value`` (the inverse of :func:`n_snr2`)."""
    n, d = check_int("n", n, low=1), check_int("d", d, low=1)
    noise_std = check_real("noise_std", noise_std, low=0.0, low_open=True)
    return float(np.sqrt(check_real("n_snr2", n_snr2_value, low=0.0, low_open=True) * noise_std ** 2 * d / n))


def stage1_theory(*, d: int, n: int, m: int, lr: float, mu_norm: float, c_mu: float, noise_std: float,
                  temperature: float, init_std: float, **_) -> dict:
    """Stage-1 growth rates and end times from the paper's constants (docs/papers/huang2024.md).

    Returns:
        dict with ``single_signal_rate`` (upper bound, log-growth per step), ``single_noise_rate`` (lower bound),
        ``single_ratio`` (0.54 n SNR^2), ``multi_signal_rate`` (lower bound), ``multi_noise_rate`` (upper bound),
        ``t1_single``, ``t1_multi``.
    """
    eta, tau = lr, temperature
    noise_step = eta * noise_std ** 2 * d / (n * m * tau)
    return {"single_signal_rate": float(np.log1p(0.52 * eta * mu_norm ** 2 / (m * tau))),
            "single_noise_rate": float(np.log1p(0.96 * noise_step)),
            "single_ratio": 0.54 * n_snr2(n, mu_norm, noise_std, d),
            "multi_signal_rate": float(np.log1p(0.48 * c_mu * eta * mu_norm ** 2 / (m * tau))),
            "multi_noise_rate": float(np.log1p(1.06 * noise_step)),
            "t1_single": float(np.log(20 / (init_std * noise_std * np.sqrt(d))) / np.log1p(0.96 * noise_step)),
            "t1_multi": float(np.log(20 / (init_std * mu_norm))
                              / np.log1p(0.48 * c_mu * eta * mu_norm ** 2 / (m * tau)))}


def _draws(seeds, mode, params):
    keys = ("d", "n", "m", "n_test", "mu_norm", "c_mu", "noise_std", "aug_std", "nu_norm", "nu_direction", "init_std",
            "sampler")
    return [draw_grams(s, mode=mode, **{k: params[k] for k in keys if k in params}) for s in seeds]


def _train_keys(params):
    return {k: params[k] for k in ("lr", "epochs", "temperature", "negatives", "track_every", "probe", "device")
            if k in params}


def figure1(mode: str = "multi", seed: int = 0, *, seeds=None, **params) -> dict:
    """Figure 1 of the paper for one mode: loss, OOD accuracy, signal learning and noise memorisation over epochs.

    Reproduces: Huang et al. 2024, Figure 1 (synthetic experiment, §6).

    Args:
        mode: ``"single"`` or ``"multi"``.
        seed: the model's seed (ignored when ``seeds`` is given: then every seed trains at once, batched).
        **params: overrides of :data:`FIGURE1` and the training options of :func:`train_batched`.

    Returns:
        dict with ``initial_loss``, ``final_loss``, ``ood_accuracy``, ``signal_max``, ``noise_max`` (means over
        seeds of the final values) and ``history`` (the :func:`train_batched` dict, arrays (S, ...)).
    """
    check_choice("mode", mode, MODES)
    unknown = set(params) - set(FIGURE1) - {"negatives", "track_every", "probe", "device", "nu_direction", "sampler"}
    if unknown:
        raise TypeError(f"unknown parameters {sorted(unknown)}; allowed: {sorted(FIGURE1)} and training options")
    p = {**FIGURE1, **params}
    seeds = [seed] if seeds is None else list(seeds)
    hist = train_batched(_draws(seeds, mode, p), mode=mode, **_train_keys(p))
    return {"initial_loss": float(hist["loss"][:, 0].mean()), "final_loss": float(hist["loss"][:, -1].mean()),
            "ood_accuracy": float(hist["ood_accuracy"][:, -1].mean()),
            "signal_max": float(hist["signal_max"][:, -1].mean()), "noise_max": float(hist["noise_max"][:, -1].mean()),
            "history": hist, "mode": mode, "params": p}


PHASE_VERSION = "1"  # bump when the phase-diagram model changes, so cached sweep points are recomputed


def phase_points(points: list, *, device: str = "auto") -> list:
    """Final OOD accuracy and loss of many phase-diagram models, each group of points that differ only in
    (``n_snr2``, ``c_mu``, ``seed``) trained as one batched program (the ``batched`` form for :mod:`mmcl_core.sweep`).

    Args:
        points: dicts with ``mode``, ``n_snr2`` (sets ``mu_norm = sqrt(n_snr2 noise_std^2 d / n)``; the OOD signal
            keeps its ratio ``nu_norm / mu_norm``, 0.4 in :data:`FIGURE1`), ``seed``, ``c_mu`` (multi), optional
            ``dtype``
            and ``sampler`` and any :data:`FIGURE1` override.

    Returns:
        list of {``ood_accuracy``, ``final_loss``}, one per point.
    """
    import json as _json

    groups: dict = {}
    for i, pt in enumerate(points):
        shared = {k: v for k, v in pt.items() if k not in ("n_snr2", "c_mu", "seed")}
        groups.setdefault(_json.dumps(shared, sort_keys=True), []).append(i)
    out: list = [None] * len(points)
    for key, idx in groups.items():
        shared = _json.loads(key)
        mode, dtype, sampler = shared.pop("mode"), shared.pop("dtype", "float64"), shared.pop("sampler", "vectors")
        p = {**FIGURE1, **shared, "track_every": 0, "device": device}
        nu_ratio = p["nu_norm"] / p["mu_norm"]  # 0.4 in Figure 1
        draws = []
        for i in idx:
            mu = mu_norm_for(points[i]["n_snr2"], n=p["n"], noise_std=p["noise_std"], d=p["d"])
            draws += _draws([points[i]["seed"]], mode, {**p, "mu_norm": mu, "c_mu": points[i].get("c_mu", 3.0),
                                                        "nu_norm": nu_ratio * mu, "sampler": sampler})
        hist = train_batched(draws, mode=mode, dtype=dtype, **_train_keys(p))
        for j, i in enumerate(idx):
            out[i] = {"ood_accuracy": float(hist["ood_accuracy"][j, -1]), "final_loss": float(hist["loss"][j, -1])}
    return out


def phase_point(*, mode: str, n_snr2: float, seed: int, c_mu: float = 3.0, device: str = "auto", **params) -> dict:
    """One phase-diagram model (the per-point form for :mod:`mmcl_core.sweep`); see :func:`phase_points`."""
    return phase_points([{"mode": mode, "n_snr2": n_snr2, "c_mu": c_mu, "seed": seed, **params}], device=device)[0]


def phase_diagram(snr_values=(0.2, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0), c_mu_values=(1.0, 3.0), seeds=(0, 1, 2),
                  dtype: str = "float32", sampler: str = "lowdim", cache_dir=None, executor="batched",
                  progress: bool = False, **params) -> dict:
    """Final OOD accuracy of both modes over n SNR^2 (through ||mu||) and C_mu, as a sweep (:mod:`mmcl_core.sweep`):
    by default every model of a mode trained at once, optionally cached on disk and resumable.

    Args:
        snr_values: values of n SNR^2; ``mu_norm = sqrt(value * noise_std^2 d / n)``.
        c_mu_values: text-signal ratios ||mu~|| / ||mu||.
        seeds: seeds per cell.
        dtype: precision of the batched training (float32 by default: a sweep of accuracies, not a theory check).
        sampler: how :func:`draw_grams` draws the data (``"lowdim"`` by default: the same law, far cheaper).
        cache_dir: folder of the sweep cache (None: compute everything, keep nothing).
        executor: ``"batched"`` (one program per mode), ``"serial"``, ``"process"``, an Executor or a Dask client.
        progress: progress bar over the points computed.
        **params: overrides of :data:`FIGURE1` and ``negatives``/``probe``/``nu_direction``/``device``; the OOD
            signal norm keeps its ratio ``nu_norm / mu_norm`` to the swept ``||mu||``.

    Returns:
        dict with ``n_snr2`` (A,), ``c_mu`` (C,), ``single`` (A, S) and ``multi`` (C, A, S) accuracies (single-modal
        training does not see the text, so it has no C_mu axis), ``seconds``, ``models``, ``computed`` (models not
        read from the cache), ``tables`` (the two :class:`~mmcl_core.sweep.SweepTable`).
    """
    from functools import partial

    from ..sweep import run_sweep

    device = params.pop("device", "auto")
    unknown = set(params) - set(FIGURE1) - {"negatives", "probe", "nu_direction", "track_every"}
    if unknown:
        raise TypeError(f"unknown parameters {sorted(unknown)}; allowed: {sorted(FIGURE1)} and training options")
    params.pop("track_every", None)
    snr_values = [check_real("n_snr2", v, low=0.0, low_open=True) for v in snr_values]
    c_mu_values = [check_real("c_mu", c, low=0.0, low_open=True) for c in c_mu_values]
    seeds = list(seeds)
    shared = {**params, "dtype": check_choice("dtype", dtype, ("float64", "float32")),
              "sampler": check_choice("sampler", sampler, SAMPLERS)}
    start = time.perf_counter()
    sweep = dict(seeds=seeds, batched=partial(phase_points, device=device), executor=executor, cache_dir=cache_dir,
                 name="huang2024.phase_point", version=PHASE_VERSION, progress=progress)
    single = run_sweep(partial(phase_point, device=device),
                       [{**shared, "mode": "single", "n_snr2": v} for v in snr_values], **sweep)
    multi = run_sweep(partial(phase_point, device=device),
                      [{**shared, "mode": "multi", "n_snr2": v, "c_mu": c} for c in c_mu_values for v in snr_values],
                      **sweep)
    A, C, S = len(snr_values), len(c_mu_values), len(seeds)
    single_acc, multi_acc = single.columns["ood_accuracy"].reshape(A, S), multi.columns["ood_accuracy"].reshape(C, A, S)
    return {"n_snr2": np.array(snr_values), "c_mu": np.array(c_mu_values, dtype=float), "single": single_acc,
            "multi": multi_acc, "gap": multi_acc.mean(2) - single_acc.mean(1)[None, :],
            "proof_windows": dict(PROOF_WINDOWS), "seconds": time.perf_counter() - start,
            "models": len(single) + len(multi), "computed": single.computed + multi.computed, "tables": (single, multi)}


def stage1_rates(history: dict, start: int = 10, stop: int = 30) -> dict:
    """Stage-1 log-growth slopes (least squares over steps ``start..stop``) of max_h |<w_h, mu>| and
    max_{h,i} <w_h, xi_i>, per model.

    The first few steps are a transient: the maxima are still dominated by their initial values (and, for
    multi-modal training, by neurons whose two modalities disagree in sign), so the default window starts at step 10
    and ends before the growth saturates.

    Returns:
        dict with ``signal`` and ``noise`` (B,) slopes per step and their ``ratio``.
    """
    start, stop = check_int("start", start, low=0), check_int("stop", stop, low=start + 2)
    t = np.arange(start, stop + 1)
    sig = np.polyfit(t, history["log_signal"][:, start: stop + 1].T, 1)[0]
    noi = np.polyfit(t, history["log_noise"][:, start: stop + 1].T, 1)[0]
    return {"signal": sig, "noise": noi, "ratio": sig / noi}


def phase_lookup(phase: dict, n_snr2: float, c_mu: float) -> dict:
    """The phase-diagram widget: the cached cell nearest to (n SNR^2, C_mu).

    Returns:
        dict with the chosen grid values, ``single`` and ``multi`` mean accuracies, indices and the sweep ``phase``.
    """
    i = int(np.argmin(np.abs(np.log(phase["n_snr2"]) - np.log(check_real("n_snr2", n_snr2, low=0.0, low_open=True)))))
    j = int(np.argmin(np.abs(phase["c_mu"] - check_real("c_mu", c_mu, low=0.0, low_open=True))))
    return {"n_snr2": float(phase["n_snr2"][i]), "c_mu": float(phase["c_mu"][j]), "i_snr": i, "i_cmu": j,
            "single": float(phase["single"][i].mean()), "multi": float(phase["multi"][j, i].mean()), "phase": phase}


def crossing(x, acc, level: float = 0.8) -> float:
    """The n SNR^2 at which a mean accuracy curve first exceeds ``level`` (log-linear interpolation; inf if never).

    ``x`` (positive, increasing) and ``acc`` are 1-D of one length.
    """
    x, acc = np.asarray(x, dtype=float), np.asarray(acc, dtype=float)
    if x.ndim != 1 or acc.ndim != 1 or x.shape != acc.shape or x.size == 0:
        raise ValueError(f"x and acc must be non-empty 1-D arrays of one length, got shapes {x.shape} and {acc.shape}")
    if not (np.isfinite(x).all() and np.isfinite(acc).all()) or (x <= 0).any() or (np.diff(x) <= 0).any():
        raise ValueError("x must be positive and increasing, x and acc finite")
    level = check_real("level", level)
    above = np.flatnonzero(acc > level)
    if above.size == 0:
        return float("inf")
    k = int(above[0])
    if k == 0:
        return float(x[0])
    lx0, lx1 = np.log(x[k - 1]), np.log(x[k])
    return float(np.exp(lx0 + (level - acc[k - 1]) / (acc[k] - acc[k - 1]) * (lx1 - lx0)))


# Table 1 lives in its own modules, on the offline ColoredDigits proxy and on real MNIST; their entry points are part of
# this paper's API.
from .huang2024_digits import (COLORED_METHODS, TABLE1, colored_digits, colored_digits_summary,  # noqa: E402
                               colored_digits_table)
from .huang2024_mnist import CMNIST_METHODS, colored_mnist_summary, colored_mnist_table  # noqa: E402
