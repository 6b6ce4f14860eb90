"""Xue et al. (ICLR 2024), the project's reconstruction of the data model (models B and K of docs/papers/xue2024.md):
closed forms P1-P4, finite-sample linear MMCL and supervised fits, zero-shot scoring, InfoNCE-trained encoders, and
the sweeps and panels of notebook 08. Re-exported by :mod:`mmcl_core.experiments.xue2024`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .._checks import check_choice, check_int, check_real
from ..data.core_spurious import CoreSpuriousSetting, binary_model, k_class_model
from ..data.core_spurious import check_model as _check_model
from ..spectral import linear_mmcl
from ..train.linear import infonce_fit

__all__ = ["METHODS", "TESTS", "PROMPTS", "LOSSES", "test_probability", "CoreSpuriousSetting", "binary_model",
           "k_class_model",
           "mmcl_weights", "supervised_weights", "linear_accuracy", "closed_form", "fit_mmcl", "fit_supervised",
           "zero_shot_predict", "draw_sets", "score_mmcl", "evaluate", "model_b_accuracy", "infonce_fit",
           "closed_form_panel", "simulation_panel", "sigma_core_table", "richness_sweep", "annotation_invariance",
           "sigma_spu_sweep", "capacity_sweep", "infonce_study", "infonce_lookup"]


METHODS = ("mmcl", "mmcl_label_only", "supervised")


TESTS = ("id", "independent", "flipped")


PROMPTS = ("class", "mean_caption")


LOSSES = ("linear", "infonce")


def test_probability(test: str, p_train: float, n_classes: int = 2) -> float:
    """P(spurious cue = the class's own cue) at test time: ``id`` = p_train, ``independent`` = 1/K, ``flipped`` = 0
    for K > 2 (never the class's own cue) and 1 - p_train for K = 2 (the correlation reversed)."""
    check_choice("test", test, TESTS)
    p_train = check_real("p_train", p_train, low=0.0, high=1.0)
    n_classes = check_int("n_classes", n_classes, low=2)
    if test == "id":
        return p_train
    if test == "independent":
        return 1.0 / n_classes
    return 1.0 - p_train if n_classes == 2 else 0.0


def mmcl_weights(sigma_core: float = 2.0, p_train: float = 0.9, q_core: float = 1.0, mu_core: float = 1.0,
                 mu_spu: float = 1.0) -> tuple[float, float]:
    """P1: MMCL's zero-shot weights (core, spurious) = (mu_core^2 + q_core sigma_core^2,
    mu_spu mu_core (2 p_train - 1)).

    Reproduces: Xue et al. 2024, intra-class contrasting (docs/papers/xue2024.md, P1; reconstructed).
    """
    _check_model(sigma_core, 0.0, mu_core, mu_spu, p_train, q_core, 0.0, 0.0)
    return mu_core ** 2 + q_core * sigma_core ** 2, mu_spu * mu_core * (2 * p_train - 1)


def supervised_weights(sigma_core: float = 2.0, p_train: float = 0.9, mu_core: float = 1.0,
                       mu_spu: float = 1.0) -> tuple[float, float]:
    """P2: the cross-entropy (Bayes log-odds) weights (2 mu_core / sigma_core^2, ln(p/(1-p)) / mu_spu) as
    sigma_spu -> 0 (p = p_train)."""
    _check_model(sigma_core, 0.0, mu_core, mu_spu, p_train, 0.0, 0.0, 0.0)
    return 2 * mu_core / sigma_core ** 2, float(np.log(p_train / (1 - p_train))) / mu_spu


def linear_accuracy(w_core: float, w_spu: float, *, p_test: float, sigma_core: float, sigma_spu: float,
                    mu_core: float = 1.0, mu_spu: float = 1.0) -> float:
    """P3: accuracy of sign(w_core z_core + w_spu z_spu) when the cue agrees with the class w.p. ``p_test``.

    ``p Phi((w_c mu_core + w_s mu_spu)/s) + (1 - p) Phi((w_c mu_core - w_s mu_spu)/s)``,
    ``s^2 = w_c^2 sc^2 + w_s^2 ss^2``.
    """
    w_core, w_spu = check_real("w_core", w_core), check_real("w_spu", w_spu)
    p_test = check_real("p_test", p_test, low=0.0, high=1.0)
    sigma_core = check_real("sigma_core", sigma_core, low=0.0, low_open=True)
    sigma_spu = check_real("sigma_spu", sigma_spu, low=0.0)
    mu_core = check_real("mu_core", mu_core, low=0.0, low_open=True)
    mu_spu = check_real("mu_spu", mu_spu, low=0.0, low_open=True)
    s = np.sqrt(w_core ** 2 * sigma_core ** 2 + w_spu ** 2 * sigma_spu ** 2)
    if s == 0:
        raise ValueError("w_core must be non-zero when w_spu is zero or sigma_spu is 0 (the score would be "
                         "constant)")
    return float(p_test * ndtr((w_core * mu_core + w_spu * mu_spu) / s)
                 + (1 - p_test) * ndtr((w_core * mu_core - w_spu * mu_spu) / s))


def closed_form(method: str = "mmcl", sigma_core: float = 2.0, p_train: float = 0.9, sigma_spu: float = 0.1,
                q_core: float = 1.0, mu_core: float = 1.0, mu_spu: float = 1.0) -> dict:
    """P1-P3 for one method: weights and the three test accuracies (model B).

    Returns:
        dict with ``w_core``, ``w_spu``, ``id``, ``ood_independent``, ``ood_flipped``, ``bayes_core_only``
        (Phi(mu_core / sigma_core), the ceiling of a core-only classifier).
    """
    check_choice("method", method, METHODS)
    _check_model(sigma_core, sigma_spu, mu_core, mu_spu, p_train, q_core, 0.0, 0.0)
    if method == "supervised":
        w_c, w_s = supervised_weights(sigma_core, p_train, mu_core, mu_spu)
    else:
        w_c, w_s = mmcl_weights(sigma_core, p_train, q_core if method == "mmcl" else 0.0, mu_core, mu_spu)
    acc = {key: linear_accuracy(w_c, w_s, p_test=test_probability(test, p_train), sigma_core=sigma_core,
                                sigma_spu=sigma_spu, mu_core=mu_core, mu_spu=mu_spu)
           for key, test in (("id", "id"), ("ood_independent", "independent"), ("ood_flipped", "flipped"))}
    return {"w_core": w_c, "w_spu": w_s, **acc, "bayes_core_only": float(ndtr(mu_core / sigma_core))}


def fit_mmcl(x_img, x_txt, rank: int | None = None, rho: float = 1.0) -> np.ndarray:
    """Linear-loss MMCL on image and text features: ``M = SVD_rank(S) / rho`` of the sample image-text
    cross-covariance S (d_I x d_T); :func:`mmcl_core.spectral.linear_mmcl` under the paper's names."""
    return linear_mmcl(x_img, x_txt, rank, rho)


def fit_supervised(x_img, y, *, C: float = 1e4, max_iter: int = 5000):
    """The supervised baseline: (multinomial) logistic regression on images, large C (cross-entropy, weak penalty)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=max_iter).fit(x_img, y)


def _prompts(data: dict, classes, prompt: str, mu_core: float, n_latent_classes: int | None):
    """Text-side prompt embeddings (K, d_T): class-name-only latent captions, or each class's mean caption."""
    check_choice("prompt", prompt, PROMPTS)
    if prompt == "mean_caption":
        return np.stack([data["x_txt"][data["y"] == c].mean(0) for c in classes])
    D_T = data["bases"][1]
    t = np.zeros((len(classes), D_T.shape[1]))
    if n_latent_classes is None:  # binary: core coordinate mu_core * c
        t[:, 0] = mu_core * np.asarray(classes, dtype=float)
    else:
        t[np.arange(len(classes)), np.asarray(classes)] = mu_core
    return t @ D_T.T


def zero_shot_predict(M, x_img, prompts, classes) -> np.ndarray:
    """``argmax_k x^T M p_k`` (the image encoder's similarity to each class prompt)."""
    return np.asarray(classes)[np.argmax(x_img @ M @ prompts.T, axis=1)]


def draw_sets(method: str = "mmcl", *, n_classes: int = 2, n: int = 5000, n_test: int = 20000, seed: int = 0,
              **model) -> tuple[dict, dict]:
    """Training set and the three test sets (``id``, ``ood_independent``, ``ood_flipped``) sharing one embedding.

    ``method="mmcl_label_only"`` zeroes every caption annotation probability.
    """
    check_choice("method", method, METHODS)
    K = check_int("n_classes", n_classes, low=2)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    if method == "mmcl_label_only":
        model = {**model, "q_core": 0.0, "q_spu": 0.0, "q_det": 0.0}
    draw = binary_model if K == 2 else (lambda size, **kw: k_class_model(size, n_classes=K, **kw))
    train = draw(n, rng=rng, **model)
    p_train = model.get("p_train", 0.9)
    tests = {key: draw(check_int("n_test", n_test, low=1), rng=rng, bases=train["bases"],
                       p_cue=test_probability(test, p_train, K), **model)
             for key, test in (("id", "id"), ("ood_independent", "independent"), ("ood_flipped", "flipped"))}
    return train, tests


def score_mmcl(M, train: dict, tests: dict, *, n_classes: int = 2, prompt: str = "class", mu_core: float = 1.0) -> dict:
    """Zero-shot accuracies of ``M = W_I^T W_T`` on each test set, and (K = 2) its latent weights on the P1 scale."""
    K = n_classes
    classes = [-1.0, 1.0] if K == 2 else list(range(K))
    prompts = _prompts(train, classes, prompt, mu_core, None if K == 2 else K)
    out = {key: float(np.mean(zero_shot_predict(M, t["x_img"], prompts, classes) == t["y"]))
           for key, t in tests.items()}
    if K == 2:
        w = train["bases"][0].T @ M @ (prompts[1] - prompts[0]) / (2 * mu_core)
        out["w_core"], out["w_spu"] = float(w[0]), float(w[1])
    else:
        out["w_core"] = out["w_spu"] = float("nan")
    return out


def evaluate(method: str = "mmcl", *, n_classes: int = 2, n: int = 5000, n_test: int = 20000, seed: int = 0,
             rank: int | None = None, loss: str = "linear", prompt: str = "class", infonce: dict | None = None,
             **model) -> dict:
    """Finite-sample accuracy of one method on the ID, cue-independent and flipped/adversarial test sets.

    Args:
        method: ``"mmcl"``, ``"mmcl_label_only"`` (captions name the class only) or ``"supervised"``.
        n_classes: 2 for model B, K > 2 for model K.
        n, n_test: training and test samples (per test set).
        rank: MMCL embedding dimension p (default: full rank for the linear loss, 10 for InfoNCE).
        loss: ``"linear"`` (closed-form SVD) or ``"infonce"`` (trained linear encoders, :func:`infonce_fit`).
        prompt: ``"class"`` (class-name-only prompt) or ``"mean_caption"``.
        infonce: keyword arguments for :func:`infonce_fit`.
        **model: keyword arguments of :func:`binary_model` / :func:`k_class_model`.

    Returns:
        dict with ``id``, ``ood_independent``, ``ood_flipped``, and the latent weights ``w_core``, ``w_spu`` of the
        binary model (MMCL on the P1 scale, supervised on the log-odds scale; NaN for K > 2).
    """
    check_choice("loss", loss, LOSSES)
    check_choice("prompt", prompt, PROMPTS)
    train, tests = draw_sets(method, n_classes=n_classes, n=n, n_test=n_test, seed=seed, **model)
    if method == "supervised":
        clf = fit_supervised(train["x_img"], train["y"])
        out = {key: float(np.mean(clf.predict(t["x_img"]) == t["y"])) for key, t in tests.items()}
        w = train["bases"][0].T @ clf.coef_[0] if n_classes == 2 else [float("nan")] * 2
        out["w_core"], out["w_spu"] = float(w[0]), float(w[1])
        return out
    M = (fit_mmcl(train["x_img"], train["x_txt"], rank) if loss == "linear"
         else infonce_fit([train], rank=rank or 10, **(infonce or {}))[0])
    return score_mmcl(M, train, tests, n_classes=n_classes, prompt=prompt, mu_core=model.get("mu_core", 1.0))


def model_b_accuracy(method: str, sigma_core: float = 2.0, p_train: float = 0.9, sigma_spu: float = 0.1,
                       q_core: float = 1.0, mu_core: float = 1.0, mu_spu: float = 1.0, test: str = "flipped",
                       closed_form: bool = True, **params) -> dict:
    """Zero-shot (or supervised) accuracy in model B, closed form (P1-P3) or simulated.

    Reproduces: Xue et al. 2024, C1/C3 in the project's reconstruction (docs/papers/xue2024.md).

    Args:
        method: ``"mmcl"``, ``"mmcl_label_only"`` or ``"supervised"``.
        test: which test set ``accuracy`` reports (``"id"``, ``"independent"``, ``"flipped"``).
        closed_form: True for P1-P3; False for a finite-sample run (``params`` go to :func:`evaluate`: n, n_test,
            seed, rank, loss, prompt, dim, noise_std, q_spu, q_det, n_details, detail_std).

    Returns:
        dict with ``id``, ``ood_independent``, ``ood_flipped``, ``w_core``, ``w_spu`` and ``accuracy`` (the chosen
        test).
    """
    check_choice("test", test, TESTS)
    if closed_form:
        if params:
            raise TypeError(f"closed_form=True takes no simulation parameters, got {sorted(params)}")
        out = _closed_form(method, sigma_core, p_train, sigma_spu, q_core, mu_core, mu_spu)
    else:
        out = evaluate(method, sigma_core=sigma_core, p_train=p_train, sigma_spu=sigma_spu, q_core=q_core,
                       mu_core=mu_core, mu_spu=mu_spu, **params)
    key = {"id": "id", "independent": "ood_independent", "flipped": "ood_flipped"}[test]
    return {k: out[k] for k in ("id", "ood_independent", "ood_flipped", "w_core", "w_spu")} | {"accuracy": out[key]}


_closed_form = closed_form


def sigma_core_table(sigmas=(0.5, 1.0, 2.0, 3.0), *, simulate: bool = True, seed: int = 0, **model) -> dict:
    """Closed form (P1-P3) and, optionally, simulation for every method across the core spread sigma_core.

    Returns:
        dict with ``sigma_core`` (S,), ``methods``, and ``closed``/``simulated``: method -> dict of arrays (S,) for
        ``id``, ``ood_independent``, ``ood_flipped``, ``w_core``, ``w_spu``; ``bayes_core_only`` (S,).
    """
    sigmas = [check_real("sigma_core", s, low=0.0, low_open=True) for s in sigmas]
    cf_keys = {k: model[k] for k in ("p_train", "sigma_spu", "q_core", "mu_core", "mu_spu") if k in model}
    keys = ("id", "ood_independent", "ood_flipped", "w_core", "w_spu")
    out = {"sigma_core": np.array(sigmas), "methods": METHODS,
           "closed": {m: {k: np.array([closed_form(m, s, **cf_keys)[k] for s in sigmas]) for k in keys}
                      for m in METHODS},
           "bayes_core_only": np.array([float(ndtr(model.get("mu_core", 1.0) / s)) for s in sigmas])}
    if simulate:
        runs = {m: [evaluate(m, sigma_core=s, seed=seed, **model) for s in sigmas] for m in METHODS}
        out["simulated"] = {m: {k: np.array([r[k] for r in runs[m]]) for k in keys} for m in METHODS}
    return out


def richness_sweep(q_values=(0.0, 0.25, 0.5, 0.75, 1.0), *, sigma_core: float = 2.0, simulate: bool = True,
                   seed: int = 0, **model) -> dict:
    """MMCL accuracy as captions describe the core's intra-class variation more often (q_core), closed form and
    simulated. Reproduces: Xue et al. 2024, C4 "rich captions help" (reconstructed model).

    Returns:
        dict with ``q_core`` (Q,), ``closed`` and ``simulated``: test -> (Q,) accuracies.
    """
    qs = [check_real("q_core", q, low=0.0, high=1.0) for q in q_values]
    cf_keys = {k: model[k] for k in ("p_train", "sigma_spu", "mu_core", "mu_spu") if k in model}
    tests = ("id", "ood_independent", "ood_flipped")
    out = {"q_core": np.array(qs),
           "closed": {t: np.array([closed_form("mmcl", sigma_core, q_core=q, **cf_keys)[t] for q in qs])
                      for t in tests}}
    if simulate:
        runs = [evaluate("mmcl", sigma_core=sigma_core, q_core=q, seed=seed, **model) for q in qs]
        out["simulated"] = {t: np.array([r[t] for r in runs]) for t in tests}
    return out


def annotation_invariance(*, seed: int = 0, n_classes: int = 2, fresh_samples: bool = True, **model) -> dict:
    """Full-rank linear-loss MMCL with the spurious feature and/or the details annotated.

    With the same data seed for every setting the change is exactly 0 (the class prompt reads only the core column
    of the cross-covariance, and the draws are shared): a derivation, not a test. ``fresh_samples`` (default) draws
    an independent training and test sample for each setting, so the measured change also carries sampling noise
    and an effect of annotation, if there were one, would show.

    Returns:
        dict with ``settings`` (list of (q_spu, q_det)), ``accuracy``: setting -> {test: acc}, ``max_change``.
    """
    if not isinstance(fresh_samples, bool):
        raise TypeError(f"fresh_samples must be a bool, got {type(fresh_samples).__name__}")
    settings = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    acc = {s: evaluate("mmcl", seed=seed + (1000 * i if fresh_samples else 0), n_classes=n_classes, q_spu=s[0],
                       q_det=s[1], **model) for i, s in enumerate(settings)}
    tests = ("id", "ood_independent", "ood_flipped")
    change = max(abs(acc[s][t] - acc[settings[0]][t]) for s in settings for t in tests)
    return {"settings": settings, "accuracy": {s: {t: acc[s][t] for t in tests} for s in settings},
            "max_change": float(change)}


def sigma_spu_sweep(sigma_spus=(1.0, 0.6, 0.3, 0.05), *, sigma_core: float = 2.0, seed: int = 0, **model) -> dict:
    """Assumption 4.2: the supervised baseline leans on the spurious cue more as its variance shrinks; MMCL does not.

    Returns:
        dict with ``sigma_spu`` (S,), and ``supervised``/``mmcl``: {``ood_flipped``, ``w_ratio`` (w_spu / w_core)}.
    """
    vals = [check_real("sigma_spu", v, low=0.0) for v in sigma_spus]
    out = {"sigma_spu": np.array(vals)}
    for m in ("supervised", "mmcl"):
        runs = [evaluate(m, sigma_core=sigma_core, sigma_spu=v, seed=seed, **model) for v in vals]
        out[m] = {"ood_flipped": np.array([r["ood_flipped"] for r in runs]),
                  "w_ratio": np.array([r["w_spu"] / r["w_core"] for r in runs])}
    return out


def capacity_sweep(ranks=(5, 7, 10, 15, 25), *, n_classes: int = 5, detail_std: float = 1.0, seed: int = 0,
                   **model) -> dict:
    """Exploration (not a paper claim): rank-p MMCL in model K with the nuisance details annotated or not.

    With p below the number of annotated features, high-variance annotated details can push the core directions
    out of the top-p SVD.

    Returns:
        dict with ``rank`` (R,), and ``annotated`` / ``unannotated``: test -> (R,) accuracies.
    """
    ranks = [check_int("rank", r, low=1) for r in ranks]
    out = {"rank": np.array(ranks)}
    for name, q_det in (("annotated", 1.0), ("unannotated", 0.0)):
        runs = [evaluate("mmcl", n_classes=n_classes, rank=r, q_det=q_det, detail_std=detail_std, seed=seed, **model)
                for r in ranks]
        out[name] = {t: np.array([r[t] for r in runs]) for t in ("id", "ood_independent", "ood_flipped")}
    return out


def closed_form_panel(sigma_core: float = 2.0, sigma_spu: float = 0.1, mu_core: float = 1.0, mu_spu: float = 1.0,
                      p_train: float = 0.9, q_core: float = 1.0, test: str = "flipped") -> dict:
    """The closed-form widget: the three methods at one setting, and their accuracy curves over sigma_core.

    Returns:
        dict with ``methods``: method -> closed-form dict, ``sigma_grid`` (G,), ``curves``: method -> (G,) accuracy on
        ``test``, ``bayes`` (G,), ``settings``.
    """
    key = {"id": "id", "independent": "ood_independent", "flipped": "ood_flipped"}[check_choice("test", test, TESTS)]
    args = dict(p_train=p_train, sigma_spu=sigma_spu, q_core=q_core, mu_core=mu_core, mu_spu=mu_spu)
    grid = np.linspace(0.25, 4.0, 40)
    methods = {m: closed_form(m, sigma_core, **args) for m in METHODS}
    curves = {m: np.array([closed_form(m, s, **args)[key] for s in grid]) for m in METHODS}
    return {"methods": methods, "sigma_grid": grid, "curves": curves, "bayes": ndtr(mu_core / grid), "test_key": key,
            "settings": dict(sigma_core=sigma_core, test=test, **args)}


def simulation_panel(q_core: float = 1.0, q_spu: float = 0.0, q_det: float = 0.0, n_details: int = 8,
                     detail_std: float = 1.0, rank: int = 10, n: int = 2000, n_classes: int = 2,
                     prompt: str = "class", sigma_core: float = 2.0, p_train: float = 0.9, seed: int = 0) -> dict:
    """The simulation widget: linear-loss MMCL (rank p, either prompt) in model B or K, one seed, 4,000 test points.

    Returns:
        dict with ``id``, ``ood_independent``, ``ood_flipped`` and ``settings``.
    """
    n_latent = (2 if n_classes == 2 else 2 * n_classes) + n_details
    res = evaluate("mmcl", n_classes=n_classes, n=n, n_test=4000, seed=seed, rank=min(rank, 50), prompt=prompt,
                   sigma_core=sigma_core, p_train=p_train, q_core=q_core, q_spu=q_spu, q_det=q_det,
                   n_details=n_details, detail_std=detail_std, dim=max(50, n_latent))
    return {**{k: res[k] for k in ("id", "ood_independent", "ood_flipped")},
            "settings": dict(q_core=q_core, q_spu=q_spu, q_det=q_det, n_details=n_details, detail_std=detail_std,
                             rank=rank, n=n, n_classes=n_classes, prompt=prompt, sigma_core=sigma_core)}


def infonce_study(configs: dict, *, n: int = 5000, n_test: int = 20000, seed: int = 0, rank: int = 10,
                  device: str = "auto", **fit) -> dict:
    """InfoNCE-trained and linear-loss MMCL on the same data, for several model-B settings trained as one program.

    Args:
        configs: name -> keyword arguments of :func:`binary_model` (plus ``method``: "mmcl" or "mmcl_label_only").
        fit: keyword arguments of :func:`infonce_fit` (steps, batch_size, lr, ...).

    Returns:
        dict name -> {``infonce``: accuracies and weights, ``linear``: the same for the linear loss}.
    """
    sets = {}
    for name, cfg in configs.items():
        cfg = dict(cfg)
        method = cfg.pop("method", "mmcl")
        sets[name] = draw_sets(method, n=n, n_test=n_test, seed=seed, **cfg) + (cfg.get("mu_core", 1.0),)
    Ms = infonce_fit([train for train, _, _ in sets.values()], rank=rank, seed=seed, device=device, **fit)
    return {name: {"infonce": score_mmcl(M, train, tests, mu_core=mu_core),
                   "linear": score_mmcl(fit_mmcl(train["x_img"], train["x_txt"]), train, tests, mu_core=mu_core)}
            for M, (name, (train, tests, mu_core)) in zip(Ms, sets.items())}


def infonce_lookup(study: dict, config: str) -> dict:
    """The InfoNCE widget: one cached configuration of :func:`infonce_study`."""
    check_choice("config", config, tuple(study))
    return {"config": config, **study[config]}
