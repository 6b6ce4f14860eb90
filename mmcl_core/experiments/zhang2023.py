"""Zhang, Wang & Wang (ICML 2023): MMCL as asymmetric matrix factorisation, text-induced
positive pairs, and why captions make better positives than augmentations.

The finite latent models (a random joint distribution, the class-noise caption model and the style-confounded
model) live in :mod:`mmcl_core.data.finite_models` and are re-exported here. The project's notes
(docs/papers/zhang2023.md) reconstruct the paper's
theorems from its abstract and code; notebooks say so where they state them.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int, check_real
from ..data.finite_models import class_noise_model, class_noise_phi, random_joint, style_confounded_model
from ..graphs import BOUND_VARIANTS, graph_summary, induced_image_graph
from ..spectral import normalized_cooccurrence
from .zhang2023_resampling import (  # noqa: F401 (re-export)
    PAPER_TABLE1,
    TEACHERS,
    make_teacher,
    resampling_grid,
    resampling_key,
    resampling_lookup,
    resampling_lookup_run,
    resampling_menu,
    resampling_run,
    resampling_runs,
    resampling_table,
)

__all__ = ["random_joint", "class_noise_model", "class_noise_phi", "style_confounded_model", "style_confounded",
           "spectral_loss", "factorisation_gap", "optimal_embeddings"]


def style_confounded(n_classes: int = 3, n_styles: int = 3, n_instances: int = 4, aug_style: float = 0.15,
                     aug_cls: float = 0.02, eps: float = 0.05, q_style: float = 0.0, n_templates: int = 1,
                     rank: int | None = None,
                     bound: str = "2phi/lambda") -> dict:
    """SSCL's augmentation graph against MMCL's text-induced graph on the style-confounded model.

    Reproduces: Zhang et al. 2023, Result E — consistency (phi) and diversity (lambda_{r+1}) decide the
    bound, and captions beat augmentations when they ignore the nuisance (Results C, E).

    Args:
        n_classes, n_styles, n_instances, n_templates: classes, styles, instances per (class, style), caption templates.
        aug_style: SSCL augmentation mass moved to same-style images (the cross-class cue).
        aug_cls: SSCL augmentation mass moved to same-class images.
        eps: caption class noise.
        q_style: probability that captions name the style (the nuisance).
        rank: feature dimension (default n_classes).
        bound: one of ``graphs.BOUND_VARIANTS``. The alpha variants use the label-recoverability error alpha: for
            MMCL the probability that an image's label differs from its caption's, Pr_P[y(x_v) != y_L(x_l)]; for SSCL
            the probability that a view's label differs from its natural image's (phi <= 2 alpha for both).

    Returns:
        ``{"sscl": {...}, "mmcl": {...}}``, each with ``phi``, ``diversity``, ``lambda_r1``, ``bound``,
        ``probe_error`` and ``eigenvalues``; plus ``W_sscl``, ``W_mmcl``, ``labels``, ``rank``.
    """
    if bound not in BOUND_VARIANTS:
        raise ValueError(f"bound must be one of {BOUND_VARIANTS}, got {bound!r}")
    model = style_confounded_model(n_classes, n_styles, n_instances, aug_style, aug_cls, eps, q_style, n_templates)
    rank = n_classes if rank is None else check_int("rank", rank, low=1, high=len(model["labels"]) - 1)
    out = {"rank": rank, "labels": model["labels"], "W_sscl": model["W_sscl"], "W_mmcl": model["W_mmcl"]}
    y = model["labels"]
    alphas = {"sscl": float(np.sum(model["aug"] / len(y) * (y[:, None] != y[None, :]))),
              "mmcl": float(np.sum(model["P"] * (y[:, None] != model["text_labels"][None, :])))}
    for name in ("sscl", "mmcl"):
        summary = graph_summary(model[f"W_{name}"], y, rank, alpha=alphas[name], bound=bound)
        out[name] = {**summary, "alpha": alphas[name]}
    return out


def spectral_loss(P, F_V, F_L) -> float:
    """Population multi-modal spectral loss ``L_MM`` on free embedding tables.

    ``L_MM = -2 E_{P}[f_V(x)^T f_L(l)] + E_{P_V x P_L}[(f_V(x)^T f_L(l))^2]``, where row x of F_V is f_V(x).

    Reproduces: Zhang et al. 2023, the loss analysed (docs/papers/zhang2023.md).
    """
    P = np.asarray(P, dtype=np.float64)
    S = np.asarray(F_V) @ np.asarray(F_L).T
    return float(-2 * np.sum(P * S) + np.sum(np.outer(P.sum(1), P.sum(0)) * S ** 2))


def factorisation_gap(P, F_V, F_L) -> float:
    """``|L_MM - (||A - F~_V F~_L^T||^2 - ||A||^2)|`` with density-weighted factors (Result A); 0 up to rounding."""
    P = np.asarray(P, dtype=np.float64)
    A = normalized_cooccurrence(P)
    Fv = np.sqrt(P.sum(1))[:, None] * F_V
    Fl = np.sqrt(P.sum(0))[:, None] * F_L
    rhs = np.sum((A - Fv @ Fl.T) ** 2) - np.sum(A ** 2)
    return abs(spectral_loss(P, F_V, F_L) - rhs)


def optimal_embeddings(P, rank: int) -> dict:
    """The closed-form minimiser of L_MM: ``f_V(x) = Sigma_k^{1/2} U_k[x]^T / sqrt(P_V(x))`` (and for texts).

    Returns:
        dict with ``F_V`` (|X_V|, rank), ``F_L`` (|X_L|, rank), ``min_loss`` = -sum_{i<=r} sigma_i^2,
        ``singular_values`` (all, descending).
    """
    A = normalized_cooccurrence(np.asarray(P, dtype=np.float64))
    rank = check_int("rank", rank, low=1, high=min(A.shape))
    U, s, Vt = np.linalg.svd(A)
    root = np.sqrt(s[:rank])
    P = np.asarray(P, dtype=np.float64)
    return {"F_V": U[:, :rank] * root / np.sqrt(P.sum(1))[:, None],
            "F_L": Vt[:rank].T * root / np.sqrt(P.sum(0))[:, None],
            "min_loss": float(-np.sum(s[:rank] ** 2)), "singular_values": s}


def _subspace_overlap(F, U) -> float:
    """||U^T Q_F||_F^2 with Q_F an orthonormal basis of col(F) (numerical rank); k when col(F) contains U_k."""
    Uf, sv, _ = np.linalg.svd(F, full_matrices=False)
    Q = Uf[:, sv > sv.max() * 1e-9] if sv.size and sv.max() > 0 else Uf[:, :0]
    return float(np.sum((U.T @ Q) ** 2))


def train_spectral_tables(P, rank: int, *, steps: int = 3000, lr: float = 0.3, batch_size: int | None = None,
                          seed: int = 0) -> dict:
    """Gradient descent (full batch) or minibatch SGD on free embedding tables with L_MM.

    Optimises the density-weighted tables ``F~_V = sqrt(P_V) F_V``, ``F~_L = sqrt(P_L) F_L`` (the
    preconditioning in which L_MM is a plain matrix factorisation). With ``batch_size``, each step
    uses an unbiased estimate from ``batch_size`` positive pairs ~ P and as many independent pairs
    ~ P_V x P_L, and the learning rate decays as 1/sqrt(t).

    Reproduces: Zhang et al. 2023, gradient descent reaches -sum_{i<=r} sigma_i^2 and the top-r
    subspace (Result B).

    Returns:
        dict with ``loss`` (per-step population L_MM, every ``steps // 100`` steps), ``final_loss``,
        ``min_loss``, ``rel_gap``, ``overlap`` (subspace overlap with U_r, max r), ``F_V``, ``F_L``.
    """
    P = np.asarray(P, dtype=np.float64)
    A = normalized_cooccurrence(P)
    rank = check_int("rank", rank, low=1, high=min(A.shape))
    steps = check_int("steps", steps, low=1)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    p_v, p_l = P.sum(1), P.sum(0)
    Fv = 0.1 * rng.standard_normal((A.shape[0], rank))
    Fl = 0.1 * rng.standard_normal((A.shape[1], rank))
    flat = P.ravel()
    record_every = max(steps // 100, 1)
    losses = []
    for t in range(steps):
        if batch_size is None:
            G = -2 * (A - Fv @ Fl.T)  # gradient of ||A - Fv Fl^T||^2 in the product
            step = lr
        else:
            pos = rng.choice(flat.size, size=batch_size, p=flat)
            xi, li = np.unravel_index(pos, P.shape)
            xn, ln = rng.choice(len(p_v), size=batch_size, p=p_v), rng.choice(len(p_l), size=batch_size, p=p_l)
            G = np.zeros_like(A)
            # Unbiased estimate of -2A + 2 (Fv Fl^T), written in the density-weighted coordinates.
            np.add.at(G, (xi, li), -2.0 / (batch_size * np.sqrt(p_v[xi] * p_l[li])))
            s_neg = np.sum(Fv[xn] * Fl[ln], axis=1)
            # A negative pair is drawn with probability p_V(x) p_L(l): importance weight 1 / (p_V p_L).
            np.add.at(G, (xn, ln), 2.0 * s_neg / (batch_size * p_v[xn] * p_l[ln]))
            step = lr / np.sqrt(1.0 + t / 50.0)
        Fv, Fl = Fv - step * G @ Fl, Fl - step * G.T @ Fv
        if t % record_every == 0 or t == steps - 1:
            losses.append(float(np.sum((A - Fv @ Fl.T) ** 2) - np.sum(A ** 2)))
    U, s, _ = np.linalg.svd(A)
    min_loss = float(-np.sum(s[:rank] ** 2))
    F_V, F_L = Fv / np.sqrt(p_v)[:, None], Fl / np.sqrt(p_l)[:, None]
    final = spectral_loss(P, F_V, F_L)
    return {"loss": np.array(losses), "final_loss": final, "min_loss": min_loss,
            "rel_gap": abs(final - min_loss) / abs(min_loss), "overlap": _subspace_overlap(Fv, U[:, :rank]),
            "F_V": F_V, "F_L": F_L}


def train_infonce_tables(P, rank: int, temperature: float, *, steps: int = 3000, lr: float = 0.05,
                         normalize: bool = True, seed: int = 0) -> dict:
    """Full-batch gradient descent (Adam) on the population symmetric InfoNCE loss with free tables.

    ``L = -1/2 E_P[log softmax_{l ~ P_L}(s(x, .)/tau)_l] - 1/2 E_P[log softmax_{x ~ P_V}(s(., l)/tau)_x]``
    with ``s = F_V F_L^T`` (rows L2-normalised first when ``normalize``, as CLIP does), negatives drawn
    from the marginals (a population batch). Without normalisation the temperature is absorbed by
    the scale of free tables; with it, tau bounds the similarity range and changes the optimum. The
    optimum tracks the pointwise mutual information, not the normalised co-occurrence, so its image
    subspace differs from the top-r singular subspace of the spectral loss.

    Returns:
        dict with ``final_loss``, ``residual`` = sqrt(rank - overlap): the part of U_r (top-r singular subspace
        of the normalised co-occurrence) outside the density-weighted learned image features (the sin-Theta
        distance when those have rank r; normalised features may have lower rank), ``overlap``, ``feature_rank``
        (numerical rank of the weighted features),
        ``F_V``, ``F_L``.
    """
    import torch

    P = np.asarray(P, dtype=np.float64)
    A = normalized_cooccurrence(P)
    rank = check_int("rank", rank, low=1, high=min(A.shape))
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    gen = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    Pt = torch.as_tensor(P)
    log_pv, log_pl = Pt.sum(1).log(), Pt.sum(0).log()
    Fv = (0.1 * torch.randn(P.shape[0], rank, generator=gen, dtype=torch.float64)).requires_grad_(True)
    Fl = (0.1 * torch.randn(P.shape[1], rank, generator=gen, dtype=torch.float64)).requires_grad_(True)
    opt = torch.optim.Adam([Fv, Fl], lr=check_real("lr", lr, low=0.0, low_open=True))
    for _ in range(check_int("steps", steps, low=1)):
        Ev, El = (torch.nn.functional.normalize(Fv, dim=1), torch.nn.functional.normalize(Fl, dim=1)) if normalize \
            else (Fv, Fl)
        logits = Ev @ El.T / temperature
        row = logits - torch.logsumexp(logits + log_pl[None, :], dim=1, keepdim=True)
        col = logits - torch.logsumexp(logits + log_pv[:, None], dim=0, keepdim=True)
        loss = -0.5 * (Pt * (row + col)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    U = np.linalg.svd(A)[0][:, :rank]
    F_V = (torch.nn.functional.normalize(Fv, dim=1) if normalize else Fv).detach().numpy()
    F_L = (torch.nn.functional.normalize(Fl, dim=1) if normalize else Fl).detach().numpy()
    weighted = np.sqrt(P.sum(1))[:, None] * F_V
    overlap = _subspace_overlap(weighted, U)
    return {"final_loss": loss.item(), "residual": float(np.sqrt(max(rank - overlap, 0.0))), "overlap": overlap,
            "feature_rank": int(np.linalg.matrix_rank(weighted)), "F_V": F_V, "F_L": F_L}


def mmcl_sscl_equivalence(P, labels, rank: int) -> dict:
    """MMCL on P against SSCL on the text-induced image graph: same spectrum, subspace and probe error.

    Reproduces: Zhang et al. 2023, Result D: eig(A A^T) = sigma^2, and the MMCL image
    features are an invertible linear map of the SSCL features on W_V.

    Returns:
        dict with ``eig_error`` (max |eig(A A^T) - sigma^2|), ``sin_theta`` (MMCL vs SSCL image subspaces,
        density-weighted), ``probe_error_mmcl``, ``probe_error_sscl``.
    """
    from ..graphs import spectral_features, weighted_probe_error
    from ..spectral import sin_theta_distance

    P = np.asarray(P, dtype=np.float64)
    A = normalized_cooccurrence(P)
    s = np.linalg.svd(A, compute_uv=False)
    eig = np.sort(np.linalg.eigvalsh(A @ A.T))[::-1][: len(s)]
    opt = optimal_embeddings(P, rank)
    W = induced_image_graph(P)
    spec = spectral_features(W, rank)
    p_v = P.sum(1)
    return {
        "eig_error": float(np.max(np.abs(eig - s ** 2))),
        "sin_theta": sin_theta_distance(np.sqrt(p_v)[:, None] * opt["F_V"], np.sqrt(p_v)[:, None] * spec["features"]),
        "probe_error_mmcl": weighted_probe_error(opt["F_V"], labels, p_v),
        "probe_error_sscl": weighted_probe_error(spec["features"], labels, spec["weights"]),
    }


def bound_validity(n_instances: int = 1000, seed: int = 0, bound: str = "2phi/lambda", side: str = "image") -> dict:
    """The generalisation bound against the actual probe error on random labelled instances.

    Each instance draws K classes (n_classes), images and captions per class, a class-noise level and a random
    joint distribution concentrated within classes (so the bound is informative), and the rank in [K, 2K).
    ``alpha`` (for the alpha variants) is Pr_P[y(x_v) != y_L(x_l)], the probability that an image's and its
    caption's labels differ.

    Reproduces: Zhang et al. 2023, Result C: E(f_V*) <= 2 phi / lambda_{r+1} (reconstructed; docs/papers/zhang2023.md);
    with ``side="text"``, Result F: the same bound for the text encoder on the text-induced graph P^T D_V^-1 P.

    Returns:
        dict with ``actual`` (n,), ``bound`` (n,), ``valid_fraction``, ``worst_ratio`` (max actual/bound
        over instances with a finite positive bound), ``n_informative`` (bound < 1).
    """
    n_instances = check_int("n_instances", n_instances, low=1)
    if side not in ("image", "text"):
        raise ValueError(f"side must be 'image' or 'text', got {side!r}")
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    actual, bounds = np.empty(n_instances), np.empty(n_instances)
    for i in range(n_instances):
        K = int(rng.integers(2, 6))
        per_v, per_l = rng.integers(1, 5, size=2)
        labels_v, labels_l = np.repeat(np.arange(K), per_v), np.repeat(np.arange(K), per_l)
        eps = rng.uniform(0, 0.6)
        affinity = (1 - eps) * (labels_v[:, None] == labels_l[None, :]) + eps / K
        P = affinity * rng.random((len(labels_v), len(labels_l))) ** 2 + 1e-9
        P /= P.sum()
        alpha = float(np.sum(P * (labels_v[:, None] != labels_l[None, :])))
        if side == "text":  # Result F: the roles of the modalities swapped
            P, labels_v = P.T, labels_l
        W = induced_image_graph(P)
        rank = int(min(rng.integers(K, 2 * K), len(labels_v) - 1)) if len(labels_v) > K else K
        rank = max(1, min(rank, len(labels_v)))
        summary = graph_summary(W, labels_v, rank, alpha=alpha, bound=bound)
        actual[i], bounds[i] = summary["probe_error"], summary["bound"]
    finite = np.isfinite(bounds) & (bounds > 0)
    ratio = np.where(finite, actual / np.where(finite, bounds, 1.0), 0.0)
    return {"actual": actual, "bound": bounds, "valid_fraction": float(np.mean(actual <= bounds + 1e-12)),
            "worst_ratio": float(ratio.max()), "n_informative": int(np.sum(bounds < 1))}


def bound_sweep(eps_values=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6), rank_values=(1, 2, 3, 4, 6), **model) -> dict:
    """Bound and actual probe error of both graphs of the style-confounded model over caption noise and rank.

    Returns:
        dict with ``eps`` (E,), ``rank`` (K,), and for "sscl" and "mmcl" arrays ``bound`` and ``probe_error`` of
        shape (E, K); ``valid`` (all actual <= bound).
    """
    eps_values, rank_values = list(eps_values), list(rank_values)
    out = {"eps": np.array(eps_values, float), "rank": np.array(rank_values)}
    for name in ("sscl", "mmcl"):
        out[name] = {"bound": np.empty((len(eps_values), len(rank_values))), "probe_error": np.empty((len(eps_values),
                                                                                                   len(rank_values)))}
    for i, eps in enumerate(eps_values):
        for j, rank in enumerate(rank_values):
            res = style_confounded(**{**model, "eps": eps, "rank": rank})
            for name in ("sscl", "mmcl"):
                out[name]["bound"][i, j] = res[name]["bound"]
                out[name]["probe_error"][i, j] = res[name]["probe_error"]
    out["valid"] = bool(all(np.all(out[n]["probe_error"] <= out[n]["bound"] + 1e-12) for n in ("sscl", "mmcl")))
    return out


def gain_predictors(table: dict) -> dict:
    """What predicts AddNewPositive's gain across teachers, from a :func:`resampling_table`.

    For each teacher: the mean gain over SimCLR in linear-probe points (seeds paired), the same-label rate of its
    picks, the rate of picks that are right *and* on another background than the anchor (a positive that the
    augmentations never make), and, for image teachers, the probe accuracy of the teacher itself. Then the Spearman
    rank correlation of the gain with each quantity over the teachers that have it.

    Returns:
        dict with ``teachers`` (names), ``gain``, ``same_label``, ``new_background``, ``teacher_probe`` (name ->
        value; teacher_probe only for image teachers) and ``spearman`` (quantity -> correlation with the gain).
    """
    from scipy.stats import spearmanr

    names = [table["teacher"], *table["ablation_teachers"]]
    base = np.array([r["linear_probe"] for r in table["runs"]["simclr"]])
    out = {"teachers": names, "gain": {}, "same_label": {}, "new_background": {}, "teacher_probe": {}}
    for name in names:
        runs = table["runs"]["add_new_positive" if name == table["teacher"] else f"add_new_positive (teacher: {name})"]
        out["gain"][name] = 100 * float(np.mean(np.array([r["linear_probe"] for r in runs]) - base))
        out["same_label"][name] = float(np.mean([r["same_label_rate"] for r in runs]))
        out["new_background"][name] = float(np.mean([r["new_background_rate"] for r in runs]))
        if name in table.get("teacher_probe", {}):
            out["teacher_probe"][name] = float(np.mean(table["teacher_probe"][name]))
    out["spearman"] = {}
    for quantity in ("same_label", "new_background", "teacher_probe"):
        have = [n for n in names if n in out[quantity]]
        if len(have) >= 3:
            rho = spearmanr([out[quantity][n] for n in have], [out["gain"][n] for n in have]).statistic
            out["spearman"][quantity] = float(rho)
    return out
