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
           "PHASE_VERSION", "n_snr2",
           "mu_norm_for", "stage1_theory", "draw_grams", "train_batched", "train_direct", "probe_accuracy", "figure1",
           "phase_point", "phase_points", "phase_diagram", "stage1_rates", "phase_lookup", "crossing",
           "COLORED_METHODS", "TABLE1", "colored_digits", "colored_digits_table", "colored_digits_summary",
           "CMNIST_METHODS", "colored_mnist_table", "colored_mnist_summary"]

PROOF_WINDOWS = {"single_fails_at_most": 1.8, "multi_succeeds_at_least": 1.7, "c_mu_above": 2.66}
"""The proofs' sufficient windows in n SNR^2 (Theorems 4.2 and 4.3 of the paper; docs/papers/huang2024.md): single-modal
training fails when n SNR^2 <= 1.8; multi-modal training succeeds when n SNR^2 >= 1.7 and C_mu > 2.66."""
FIGURE1 = dict(d=2000, n=100, n_test=200, m=50, lr=0.01, epochs=200, mu_norm=5.0, c_mu=3.0, noise_std=1.0,
               aug_std=0.1, nu_norm=2.0, temperature=0.1, init_std=0.01)  # §6 of the paper; tau, sigma_0 from the reference runs


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
            "t1_multi": float(np.log(20 / (init_std * mu_norm)) / np.log1p(0.48 * c_mu * eta * mu_norm ** 2 / (m * tau)))}


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
            keeps its ratio ``nu_norm / mu_norm``, 0.4 in :data:`FIGURE1`), ``seed``, ``c_mu`` (multi), optional ``dtype``
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


# --- ColoredDigits: the offline proxy of Table 1 (ColoredMNIST) ----------------------------------------------------

COLORED_METHODS = ("single", "multi_ideal_digit", "multi_ideal_digit_color", "multi_minilm_digit",
                   "multi_minilm_digit_color")
TABLE1 = {"single": (88.43, 12.68), "multi": (87.77, 82.13)}  # the paper's train / reversed-colour test accuracy (%)


def colored_digits(*, p_color: float = 0.775, label_noise: float = 0.1, test_fraction: float = 1 / 3,
                   seed: int = 0) -> dict:
    """ColoredDigits: the bundled 8x8 digits coloured by their (noisy) label, with the colour rule permuted at test.

    Training: 10 % of labels replaced by a random other class; each image takes its label's colour with probability
    ``p_color``, else a random other colour. Test: the same label noise; colour of label + 1 (mod 10) with probability
    ``p_color`` — the paper's reversal, permuted to ten classes (docs/papers/huang2024.md).

    Returns:
        dict with ``train`` and ``test``: ``images`` (n, 3, 8, 8), ``labels`` (noisy, what the probe sees),
        ``true_labels``, ``color_ids``.
    """
    from ..data import digits

    p_color = check_real("p_color", p_color, low=0.0, high=1.0)
    label_noise = check_real("label_noise", label_noise, low=0.0, high=1.0)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    images, labels = digits.load_digit_images()
    train_idx, test_idx = digits.stratified_split(labels, test_fraction, seed)
    out = {}
    for split, idx, shift in (("train", train_idx, 0), ("test", test_idx, 1)):
        true = labels[idx]
        flip = rng.random(len(idx)) < label_noise
        noisy = np.where(flip, (true + rng.integers(1, 10, len(idx))) % 10, true)
        colors = digits.nuisance_ids((noisy + shift) % 10, len(digits.COLORS), "correlated", p_color, rng=rng)
        out[split] = {"images": digits.compose(images[idx], color_ids=colors), "labels": noisy, "true_labels": true,
                      "color_ids": colors}
    return out


def colored_digits_table(methods=COLORED_METHODS, *, epochs: int = 200, simclr_epochs: int | None = None,
                         batch_size: int = 256, lr: float = 1e-3, temperature: float = 0.1,
                         caption_digit: str = "true", seed: int = 0, device: str = "auto", data: dict | None = None,
                         model=None, cache_dir=None) -> dict:
    """Table 1 proxy: single-modal SimCLR against CLIP-style training with an ideal or MiniLM caption encoder,
    captions naming the digit only or the digit and the colour; linear probes fitted on the (biased, noisy) training
    set and scored on the colour-permuted test set.

    Reproduces: Huang et al. 2024, Table 1 (ColoredMNIST) on the ColoredDigits proxy (docs/papers/huang2024.md): MLP 192 -> 256 -> 64
    image tower, caption head t -> 256 -> 64, Adam(W) lr 1e-3, batch 256, 200 epochs, tau = 0.1; SimCLR views by a
    +-1-pixel shift and pixel noise 0.1, no colour jitter.

    Args:
        caption_digit: the caption names the image's true digit (``"true"``: a caption describes the image) or its
            observed, noisy label (``"observed"``).
        temperature: InfoNCE temperature of every method.
        model: MiniLM model name or path (None: the bundled weights), for the ``multi_minilm_*`` methods.

    Returns:
        dict method -> {``train``, ``test``: accuracies against the observed labels of a logistic probe on the raw
        64-d features (CLIP's protocol); ``train_standardized``, ``test_standardized``: the same probe on
        standardised features; ``seconds``}.
    """
    import time

    from ..models import make_tower
    from ..probes import embed, linear_probe
    from ..train import train_contrastive

    for m in methods:
        check_choice("method", m, COLORED_METHODS)
    check_choice("caption_digit", caption_digit, ("true", "observed"))
    data = data if data is not None else colored_digits(seed=seed)
    tr, te = data["train"], data["test"]
    named = tr["true_labels"] if caption_digit == "true" else tr["labels"]
    schedule = dict(batch_size=batch_size, lr=lr, temperature=temperature, seed=seed, device=device)
    out = {}
    for m in methods:
        start = time.perf_counter()
        tower = make_tower(int(np.prod(tr["images"].shape[1:])), 64, hidden_dim=256, seed=seed, device=device)
        if m == "single":
            train_contrastive(tower, tr["images"], mode="simclr", epochs=simclr_epochs or epochs,
                              augment_kwargs=dict(max_shift=1.0, max_rotation_deg=0.0, intensity_range=(1.0, 1.0),
                                                  dropout=0.0, noise_std=0.1), **schedule)
        else:
            text = _caption_embeddings(m, named, tr["color_ids"], seed, model, cache_dir)
            head = make_tower(text.shape[1], 64, hidden_dim=256, seed=seed + 1, device=device)
            train_contrastive(tower, tr["images"], mode="clip", text_embeddings=text, text_head=head, epochs=epochs,
                              **schedule)
        f_tr, f_te = embed(tower, tr["images"], device=device), embed(tower, te["images"], device=device)
        raw = linear_probe(f_tr, tr["labels"], f_te, te["labels"], standardize=False)
        std = linear_probe(f_tr, tr["labels"], f_te, te["labels"])
        out[m] = {"train": raw["train_accuracy"], "test": raw["accuracy"], "train_standardized": std["train_accuracy"],
                  "test_standardized": std["accuracy"], "seconds": time.perf_counter() - start}
    return out


def _caption_embeddings(method: str, named, color_ids, seed: int, model, cache_dir):
    """The captions of a ``multi_*`` method: naming the digit ``named`` (and the colour for ``*_colour``), embedded
    ideally (one-hot) or by MiniLM."""
    from ..data import captions as cap
    from ..data.text import embed_captions, ideal_caption_embeddings

    color = method.endswith("color")
    if "ideal" in method:
        return ideal_caption_embeddings(named, color_ids if color else None)
    c = cap.make_captions(named, 1 if color else 0, rng=np.random.default_rng(seed),
                          color_ids=color_ids if color else None)
    return embed_captions(c["captions"], model, cache_dir=cache_dir)


def colored_digits_summary(tables: list, *, probe: str = "raw") -> dict:
    """Means over seeds of :func:`colored_digits_table` results and every method's gap to single-modal SimCLR.

    Args:
        tables: one :func:`colored_digits_table` dict per seed (the same methods, ``"single"`` among them).
        probe: ``"raw"`` (the probe on raw features) or ``"standardized"``.

    Returns:
        dict with ``train``/``test``/``test_std`` (method -> mean, mean, standard deviation over seeds),
        ``test_gap`` and ``train_gap`` (method -> mean over seeds of method minus single), ``seeds``, ``probe``.
    """
    check_choice("probe", probe, ("raw", "standardized"))
    if not isinstance(tables, (list, tuple)) or not tables:
        raise ValueError("tables must be a non-empty list of colored_digits_table results")
    methods = list(tables[0])
    if "single" not in methods or any(list(t) != methods for t in tables):
        raise ValueError(f"every table must hold the same methods, 'single' among them; got {[list(t) for t in tables]}")
    suffix = "" if probe == "raw" else "_standardized"
    acc = {split: np.array([[t[m][split + suffix] for m in methods] for t in tables]) for split in ("train", "test")}
    single = methods.index("single")
    out = {"seeds": len(tables), "probe": probe,
           "test_std": dict(zip(methods, acc["test"].std(0).tolist()))}
    for split in ("train", "test"):
        out[split] = dict(zip(methods, acc[split].mean(0).tolist()))
        out[split + "_gap"] = dict(zip(methods, (acc[split] - acc[split][:, [single]]).mean(0).tolist()))
    return out


# Table 1 on real MNIST lives in its own module; its entry points are part of this paper's API.
from .huang2024_mnist import CMNIST_METHODS, colored_mnist_summary, colored_mnist_table  # noqa: E402
