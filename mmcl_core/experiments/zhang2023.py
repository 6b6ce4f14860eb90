"""Zhang, Wang & Wang (ICML 2023): MMCL as asymmetric matrix factorisation, text-induced
positive pairs, and why captions make better positives than augmentations.

The finite latent models (a random joint distribution, the class-noise caption model and the style-confounded
model) live in :mod:`mmcl_core.data.finite_models` and are re-exported here. The project's notes (docs/papers/zhang2023.md) reconstruct the paper's
theorems from its abstract and code; notebooks say so where they state them.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int, check_real
from ..data.finite_models import class_noise_model, class_noise_phi, random_joint, style_confounded_model
from ..graphs import BOUND_VARIANTS, graph_summary, induced_image_graph
from ..spectral import normalized_cooccurrence

__all__ = ["random_joint", "class_noise_model", "class_noise_phi", "style_confounded_model", "style_confounded",
           "spectral_loss", "factorisation_gap", "optimal_embeddings"]


def style_confounded(r: int = 3, S: int = 3, m: int = 4, eta_style: float = 0.15, eta_cls: float = 0.02,
                     eps: float = 0.05, gamma: float = 0.0, T: int = 1, k: int | None = None,
                     bound: str = "2phi/lambda") -> dict:
    """SSCL's augmentation graph against MMCL's text-induced graph on the style-confounded model.

    Reproduces: Zhang et al. 2023, Result E — consistency (phi) and diversity (lambda_{k+1}) decide the
    bound, and captions beat augmentations when they ignore the nuisance (Results C, E).

    Args:
        r, S, m, T: classes, styles, instances per (class, style), caption templates.
        eta_style: SSCL augmentation mass moved to same-style images (the cross-class cue).
        eta_cls: SSCL augmentation mass moved to same-class images.
        eps: caption class noise.
        gamma: probability that captions name the style (the nuisance).
        k: feature dimension (default r).
        bound: one of ``graphs.BOUND_VARIANTS``. The alpha variants use the label-recoverability error alpha: for
            MMCL the probability that an image's label differs from its caption's, Pr_P[y(x_v) != y_L(x_l)]; for SSCL
            the probability that a view's label differs from its natural image's (phi <= 2 alpha for both).

    Returns:
        ``{"sscl": {...}, "mmcl": {...}}``, each with ``phi``, ``diversity``, ``lambda_k1``, ``bound``,
        ``probe_error`` and ``eigenvalues``; plus ``W_sscl``, ``W_mmcl``, ``labels``, ``k``.
    """
    if bound not in BOUND_VARIANTS:
        raise ValueError(f"bound must be one of {BOUND_VARIANTS}, got {bound!r}")
    model = style_confounded_model(r, S, m, eta_style, eta_cls, eps, gamma, T)
    k = r if k is None else check_int("k", k, low=1, high=len(model["labels"]) - 1)
    out = {"k": k, "labels": model["labels"], "W_sscl": model["W_sscl"], "W_mmcl": model["W_mmcl"]}
    y = model["labels"]
    alphas = {"sscl": float(np.sum(model["aug"] / len(y) * (y[:, None] != y[None, :]))),
              "mmcl": float(np.sum(model["P"] * (y[:, None] != model["text_labels"][None, :])))}
    for name in ("sscl", "mmcl"):
        out[name] = {**graph_summary(model[f"W_{name}"], y, k, alpha=alphas[name], bound=bound), "alpha": alphas[name]}
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


def optimal_embeddings(P, k: int) -> dict:
    """The closed-form minimiser of L_MM: ``f_V(x) = Sigma_k^{1/2} U_k[x]^T / sqrt(P_V(x))`` (and for texts).

    Returns:
        dict with ``F_V`` (|X_V|, k), ``F_L`` (|X_L|, k), ``min_loss`` = -sum_{i<=k} sigma_i^2,
        ``singular_values`` (all, descending).
    """
    A = normalized_cooccurrence(np.asarray(P, dtype=np.float64))
    k = check_int("k", k, low=1, high=min(A.shape))
    U, s, Vt = np.linalg.svd(A)
    root = np.sqrt(s[:k])
    P = np.asarray(P, dtype=np.float64)
    return {"F_V": U[:, :k] * root / np.sqrt(P.sum(1))[:, None], "F_L": Vt[:k].T * root / np.sqrt(P.sum(0))[:, None],
            "min_loss": float(-np.sum(s[:k] ** 2)), "singular_values": s}


def _subspace_overlap(F, U) -> float:
    """||U^T Q_F||_F^2 with Q_F an orthonormal basis of col(F) (numerical rank); k when col(F) contains U_k."""
    Uf, sv, _ = np.linalg.svd(F, full_matrices=False)
    Q = Uf[:, sv > sv.max() * 1e-9] if sv.size and sv.max() > 0 else Uf[:, :0]
    return float(np.sum((U.T @ Q) ** 2))


def train_spectral_tables(P, k: int, *, steps: int = 3000, lr: float = 0.3, batch_size: int | None = None,
                          seed: int = 0) -> dict:
    """Gradient descent (full batch) or minibatch SGD on free embedding tables with L_MM.

    Optimises the density-weighted tables ``F~_V = sqrt(P_V) F_V``, ``F~_L = sqrt(P_L) F_L`` (the
    preconditioning in which L_MM is a plain matrix factorisation). With ``batch_size``, each step
    uses an unbiased estimate from ``batch_size`` positive pairs ~ P and as many independent pairs
    ~ P_V x P_L, and the learning rate decays as 1/sqrt(t).

    Reproduces: Zhang et al. 2023, gradient descent reaches -sum_{i<=k} sigma_i^2 and the top-k
    subspace (Result B).

    Returns:
        dict with ``loss`` (per-step population L_MM, every ``steps // 100`` steps), ``final_loss``,
        ``min_loss``, ``rel_gap``, ``overlap`` (subspace overlap with U_k, max k), ``F_V``, ``F_L``.
    """
    P = np.asarray(P, dtype=np.float64)
    A = normalized_cooccurrence(P)
    k = check_int("k", k, low=1, high=min(A.shape))
    steps = check_int("steps", steps, low=1)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    p_v, p_l = P.sum(1), P.sum(0)
    Fv = 0.1 * rng.standard_normal((A.shape[0], k))
    Fl = 0.1 * rng.standard_normal((A.shape[1], k))
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
    min_loss = float(-np.sum(s[:k] ** 2))
    F_V, F_L = Fv / np.sqrt(p_v)[:, None], Fl / np.sqrt(p_l)[:, None]
    final = spectral_loss(P, F_V, F_L)
    return {"loss": np.array(losses), "final_loss": final, "min_loss": min_loss,
            "rel_gap": abs(final - min_loss) / abs(min_loss), "overlap": _subspace_overlap(Fv, U[:, :k]),
            "F_V": F_V, "F_L": F_L}


def train_infonce_tables(P, k: int, temperature: float, *, steps: int = 3000, lr: float = 0.05,
                         normalize: bool = True, seed: int = 0) -> dict:
    """Full-batch gradient descent (Adam) on the population symmetric InfoNCE loss with free tables.

    ``L = -1/2 E_P[log softmax_{l ~ P_L}(s(x, .)/tau)_l] - 1/2 E_P[log softmax_{x ~ P_V}(s(., l)/tau)_x]``
    with ``s = F_V F_L^T`` (rows L2-normalised first when ``normalize``, as CLIP does), negatives drawn
    from the marginals (a population batch). Without normalisation the temperature is absorbed by
    the scale of free tables; with it, tau bounds the similarity range and changes the optimum. The
    optimum tracks the pointwise mutual information, not the normalised co-occurrence, so its image
    subspace differs from the top-k singular subspace of the spectral loss.

    Returns:
        dict with ``final_loss``, ``residual`` = sqrt(k - overlap): the part of U_k (top-k singular subspace
        of the normalised co-occurrence) outside the density-weighted learned image features (the sin-Theta
        distance when those have rank k; normalised features may have lower rank), ``overlap``, ``rank``,
        ``F_V``, ``F_L``.
    """
    import torch

    P = np.asarray(P, dtype=np.float64)
    A = normalized_cooccurrence(P)
    k = check_int("k", k, low=1, high=min(A.shape))
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    gen = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    Pt = torch.as_tensor(P)
    log_pv, log_pl = Pt.sum(1).log(), Pt.sum(0).log()
    Fv = (0.1 * torch.randn(P.shape[0], k, generator=gen, dtype=torch.float64)).requires_grad_(True)
    Fl = (0.1 * torch.randn(P.shape[1], k, generator=gen, dtype=torch.float64)).requires_grad_(True)
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
    U = np.linalg.svd(A)[0][:, :k]
    F_V = (torch.nn.functional.normalize(Fv, dim=1) if normalize else Fv).detach().numpy()
    F_L = (torch.nn.functional.normalize(Fl, dim=1) if normalize else Fl).detach().numpy()
    weighted = np.sqrt(P.sum(1))[:, None] * F_V
    overlap = _subspace_overlap(weighted, U)
    return {"final_loss": loss.item(), "residual": float(np.sqrt(max(k - overlap, 0.0))), "overlap": overlap,
            "rank": int(np.linalg.matrix_rank(weighted)), "F_V": F_V, "F_L": F_L}


def mmcl_sscl_equivalence(P, labels, k: int) -> dict:
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
    opt = optimal_embeddings(P, k)
    W = induced_image_graph(P)
    spec = spectral_features(W, k)
    p_v = P.sum(1)
    return {
        "eig_error": float(np.max(np.abs(eig - s ** 2))),
        "sin_theta": sin_theta_distance(np.sqrt(p_v)[:, None] * opt["F_V"], np.sqrt(p_v)[:, None] * spec["features"]),
        "probe_error_mmcl": weighted_probe_error(opt["F_V"], labels, p_v),
        "probe_error_sscl": weighted_probe_error(spec["features"], labels, spec["weights"]),
    }


def bound_validity(n_instances: int = 1000, seed: int = 0, bound: str = "2phi/lambda", side: str = "image") -> dict:
    """The generalisation bound against the actual probe error on random labelled instances.

    Each instance draws r classes, images and captions per class, a class-noise level and a random
    joint distribution concentrated within classes (so the bound is informative), and k in [r, 2r).
    ``alpha`` (for the alpha variants) is Pr_P[y(x_v) != y_L(x_l)], the probability that an image's and its
    caption's labels differ.

    Reproduces: Zhang et al. 2023, Result C: E(f_V*) <= 2 phi / lambda_{k+1} (reconstructed; docs/papers/zhang2023.md);
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
        r = int(rng.integers(2, 6))
        per_v, per_l = rng.integers(1, 5, size=2)
        labels_v, labels_l = np.repeat(np.arange(r), per_v), np.repeat(np.arange(r), per_l)
        eps = rng.uniform(0, 0.6)
        affinity = (1 - eps) * (labels_v[:, None] == labels_l[None, :]) + eps / r
        P = affinity * rng.random((len(labels_v), len(labels_l))) ** 2 + 1e-9
        P /= P.sum()
        alpha = float(np.sum(P * (labels_v[:, None] != labels_l[None, :])))
        if side == "text":  # Result F: the roles of the modalities swapped
            P, labels_v = P.T, labels_l
        W = induced_image_graph(P)
        k = int(min(rng.integers(r, 2 * r), len(labels_v) - 1)) if len(labels_v) > r else r
        k = max(1, min(k, len(labels_v)))
        summary = graph_summary(W, labels_v, k, alpha=alpha, bound=bound)
        actual[i], bounds[i] = summary["probe_error"], summary["bound"]
    finite = np.isfinite(bounds) & (bounds > 0)
    ratio = np.where(finite, actual / np.where(finite, bounds, 1.0), 0.0)
    return {"actual": actual, "bound": bounds, "valid_fraction": float(np.mean(actual <= bounds + 1e-12)),
            "worst_ratio": float(ratio.max()), "n_informative": int(np.sum(bounds < 1))}


# --- CLIP-guided resampling on real data (Table 1 proxy) -------------------------------------------

TEACHERS = ("clip", "clip_rich", "clip_no_aug", "caption", "oracle")


def make_teacher(kind: str, pairs: dict, *, seed: int = 0, epochs: int = 20, device: str = "auto"):
    """A teacher similarity for the augmented views of a batch.

    Args:
        kind: "clip" (image tower of a CLIP-style model trained on the training digit-caption pairs with the
            SimCLR augmentations, applied to the same augmented views, as the paper applies CLIP), "clip_rich" (the
            same, trained on richer captions: level 2, each naming the digit's measured thickness, slant and size,
            :func:`mmcl_core.experiments.real_data.recaption`), "clip_no_aug"
            (the same teacher trained on clean images only: it is not robust to the views it sees),
            "caption" (cosine of the views' caption embeddings) or "oracle" (same label, ties broken by a fixed
            tiny per-image jitter).
        pairs: output of :func:`mmcl_core.experiments.real_data.digit_pairs`.

    Returns:
        ``teacher(views_1, views_2, idx) -> (2b, 2b)`` similarity tensor; the CLIP-style kinds also carry the
        trained ``teacher.image_tower``.
    """
    import torch
    import torch.nn.functional as F

    from ..device import get_device
    from .real_data import recaption, train_clip_towers

    if kind not in TEACHERS:
        raise ValueError(f"kind must be one of {TEACHERS}, got {kind!r}")
    dev = get_device(device)
    tr = pairs["train"]
    if kind in ("clip", "clip_rich", "clip_no_aug"):
        source = recaption(pairs, 2, seed=seed + 2000) if kind == "clip_rich" else pairs
        tower, _, _ = train_clip_towers(source, epochs=epochs, augment=kind != "clip_no_aug", seed=seed + 1000,
                                        device=dev)
        tower.requires_grad_(False)

        def teacher(v1, v2, idx):
            with torch.no_grad():
                e = F.normalize(tower(torch.cat([v1, v2])), dim=1)
            return e @ e.T
        teacher.image_tower = tower  # the caption-trained encoder itself, for probing
        return teacher
    if kind == "caption":
        table = torch.as_tensor(tr["text"], dtype=torch.float32, device=dev)
    else:
        jitter = np.random.default_rng(seed).standard_normal((len(tr["labels"]), 10)) * 1e-3
        table = torch.as_tensor(np.eye(10)[tr["labels"]] + jitter, dtype=torch.float32, device=dev)

    def teacher(v1, v2, idx):
        e = F.normalize(table[idx], dim=1)
        e = torch.cat([e, e])
        return e @ e.T
    return teacher


def resampling_run(method: str = "simclr", teacher: str = "clip", *, background_strength: float = 0.5,
                   epochs: int = 30, batch_size: int = 256, temperature: float = 0.2, ratio: float | None = None,
                   top_k: int = 1, new_positive_weight: float = 0.5, as_released: bool = True, seed: int = 0,
                   pairs: dict | None = None, teacher_fn=None, backbone: bool = False, device: str = "auto") -> dict:
    """SimCLR on nuisance digits with one resampling method; linear-probe accuracy of the encoder.

    Reproduces: Zhang et al. 2023, Table 1 (relative trends on a digits proxy).

    Args:
        method: one of :data:`mmcl_core.resampling.METHODS`.
        teacher: one of ``TEACHERS`` (ignored for "simclr").
        background_strength: intensity of the class-independent background nuisance.
        epochs, batch_size, temperature: SimCLR schedule (batch of 2 x batch_size views).
        ratio, top_k, new_positive_weight, as_released: method options (official defaults when None).
        seed: seed of the split, captions, teacher and student.
        pairs, teacher_fn: precomputed data / teacher to reuse across runs.
        backbone: also probe the hidden layer (the released evaluation probes the backbone, before the projection
            head), as ``backbone_probe``; about 0.6 s more per run.

    Returns:
        dict with ``linear_probe``, ``knn``, ``same_label_rate`` (label agreement of the teacher's top-1 pick
        among other images of the batch; add_new_positive only, else nan), ``self_same_label_rate`` (the same
        for the student's own most similar other view: the positive SimCLR itself would pick), ``seconds``.
    """
    import torch

    from ..models import make_tower
    from ..resampling import DEFAULT_RATIOS, METHODS, resampled_nt_xent
    from ..train import train_contrastive
    from .real_data import digit_pairs, evaluate_tower

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    batch_size = check_int("batch_size", batch_size, low=2)
    drop_ratio = DEFAULT_RATIOS.get(method) if ratio is None else ratio
    if method in DEFAULT_RATIOS and int(check_real("ratio", drop_ratio, low=0.0, high=1.0) * 2 * batch_size) < 1:
        raise ValueError(f"batch_size {batch_size} is too small for {method} at ratio {drop_ratio:g}: 2 x batch_size "
                         f"x ratio must be >= 1 view (the released code raises IndexError here)")
    pairs = pairs if pairs is not None else digit_pairs(background_strength=background_strength, seed=seed)
    if method != "simclr" and teacher_fn is None:
        teacher_fn = make_teacher(teacher, pairs, seed=seed, device=device)
    tr = pairs["train"]
    labels_t = torch.as_tensor(tr["labels"])
    backgrounds_t = torch.as_tensor(tr["background_ids"]) if tr.get("background_ids") is not None else None
    agree, self_agree, new_background = [], [], []

    def pair_loss(z1, z2, v1, v2, idx):
        with torch.no_grad():  # the student's own top-1 among other images of the batch
            zz = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
            sim = zz @ zz.T
            n2 = sim.shape[0]
            ar = torch.arange(n2, device=sim.device)
            sim[ar, ar] = -2.0
            sim[ar, (ar + n2 // 2) % n2] = -2.0
            lab = labels_t[idx.cpu()].repeat(2)
            self_agree.append(float((lab[sim.argmax(1).cpu()] == lab).float().mean()))
        s = teacher_fn(v1, v2, idx) if method != "simclr" else None
        loss, info = resampled_nt_xent(z1, z2, s, method, temperature=temperature, ratio=ratio, top_k=top_k,
                                       new_positive_weight=new_positive_weight, as_released=as_released)
        if "picked" in info:
            picked = info["picked"][:, 0].cpu()
            same = lab[picked] == lab
            agree.append(float(same.float().mean()))
            if backgrounds_t is not None:  # a right pick on another background: a positive augmentations never make
                bg = backgrounds_t[idx.cpu()].repeat(2)
                new_background.append(float((same & (bg[picked] != bg)).float().mean()))
        return loss

    tower = make_tower(int(np.prod(tr["images"].shape[1:])), 64, seed=seed, device=device)
    run = train_contrastive(tower, tr["images"], mode="simclr", epochs=epochs, batch_size=batch_size,
                            temperature=temperature, pair_loss=pair_loss, seed=seed, device=device)
    hidden = (evaluate_tower(tower.net[:-1], pairs, device=device)["linear_probe"] if backbone  # before the output map
              else float("nan"))
    return {**evaluate_tower(tower, pairs, device=device), "backbone_probe": hidden,
            "same_label_rate": float(np.mean(agree)) if agree else float("nan"),
            "new_background_rate": float(np.mean(new_background)) if new_background else float("nan"),
            "self_same_label_rate": float(np.mean(self_agree)), "seconds": run["seconds"]}


PAPER_TABLE1 = {"simclr": 61.2, "add_new_positive": 67.4, "drop_false_positive": 61.8, "drop_false_negative": 61.4,
                "drop_easy_negative": 62.3}  # ImageNet-100 linear-probe top-1 (%), official README


def resampling_table(seeds=(0, 1, 2), *, teacher: str = "clip", background_strength: float = 0.8, epochs: int = 30,
                     ablation_teachers=("clip_no_aug", "caption", "oracle"), device: str = "auto", progress: bool = False,
                     **run_kwargs) -> dict:
    """Table-1 proxy: every method (and DropFalsePositive both ways) over seeds, teacher ablations for
    AddNewPositive, the MMCL encoder's own probe, and the label agreement of picked positives.

    Returns:
        dict with ``runs`` (row name -> list of per-seed result dicts), ``row_keys`` (row name -> its
        :func:`resampling_key`), ``summary`` (row name -> mean and std of the linear probe in %), ``same_label``
        (teacher -> mean agreement of its top-1 picks, and "simclr (own picks)" for the baseline student's own
        most similar other image), ``mmcl_probe`` (per-seed probe of the CLIP-style image tower trained on the
        same nuisance digits without augmentation: the ``clip_no_aug`` teacher), ``seeds``, ``settings``.
    """
    from tqdm.auto import tqdm

    from ..resampling import METHODS
    from .real_data import digit_pairs, evaluate_tower

    rows: dict[str, list] = {}
    mmcl_probe, teacher_probe, first_teachers = [], {}, {}
    for seed in tqdm(list(seeds), desc="resampling seeds", disable=not progress):
        pairs = digit_pairs(background_strength=background_strength, seed=seed)
        teachers = {name: make_teacher(name, pairs, seed=seed, device=device)
                    for name in sorted({teacher, "clip_no_aug", *ablation_teachers})}
        first_teachers = first_teachers or teachers
        common = dict(background_strength=background_strength, epochs=epochs, seed=seed, pairs=pairs, device=device,
                      **run_kwargs)
        for method in METHODS:
            rows.setdefault(method, []).append(
                resampling_run(method, teacher, teacher_fn=teachers[teacher], as_released=True, **common))
        rows.setdefault("drop_false_positive (as intended)", []).append(
            resampling_run("drop_false_positive", teacher, teacher_fn=teachers[teacher], as_released=False, **common))
        for name in ablation_teachers:
            rows.setdefault(f"add_new_positive (teacher: {name})", []).append(
                resampling_run("add_new_positive", name, teacher_fn=teachers[name], **common))
        mmcl_probe.append(evaluate_tower(teachers["clip_no_aug"].image_tower, pairs, device=device)["linear_probe"])
        for name, fn in teachers.items():  # how well each image teacher itself classifies (a probe on its tower)
            if hasattr(fn, "image_tower"):
                teacher_probe.setdefault(name, []).append(
                    evaluate_tower(fn.image_tower, pairs, device=device)["linear_probe"])
    summary = {name: {"mean": 100 * float(np.mean([r["linear_probe"] for r in runs])),
                      "std": 100 * float(np.std([r["linear_probe"] for r in runs], ddof=1)) if len(runs) > 1 else 0.0}
               for name, runs in rows.items()}
    same_label = {name: float(np.mean([r["same_label_rate"] for r in rows[key]]))
                  for name, key in [(teacher, "add_new_positive")] + [(t, f"add_new_positive (teacher: {t})")
                                                                      for t in ablation_teachers]}
    same_label["simclr (own picks)"] = float(np.mean([r["self_same_label_rate"] for r in rows["simclr"]]))
    row_keys = {method: resampling_key(method, teacher, background_strength, None, 1, True) for method in METHODS}
    row_keys["drop_false_positive (as intended)"] = resampling_key("drop_false_positive", teacher,
                                                                    background_strength, None, 1, False)
    row_keys.update({f"add_new_positive (teacher: {t})": resampling_key("add_new_positive", t, background_strength,
                                                                         None, 1, True) for t in ablation_teachers})
    return {"runs": rows, "row_keys": row_keys, "summary": summary, "same_label": same_label,
            "mmcl_probe": mmcl_probe, "teacher_probe": teacher_probe, "teacher": teacher,
            "first_seed_teachers": first_teachers,
            "ablation_teachers": tuple(ablation_teachers), "seeds": list(seeds),
            "background_strength": background_strength,
            "settings": {"epochs": epochs, **run_kwargs}}


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


def resampling_grid(background_strengths=(0.4, 0.8), *, seed: int = 0, epochs: int = 30, device: str = "auto",
                    reuse: dict | None = None, progress: bool = False, teacher: str = "clip", **run_kwargs) -> dict:
    """Precomputed single-seed runs over the widget's choices, so the widget never trains.

    Grid per nuisance strength: the baseline; DropFalseNegative and DropEasyNegative at two ratios and
    DropFalsePositive as released and as intended, all with ``teacher``; AddNewPositive for each teacher at top-k 1
    and 3.
    ``run_kwargs`` (e.g. ``temperature``, ``batch_size``) go to every run. ``reuse``: a
    :func:`resampling_table` result whose first seed's runs fill the grid where seed, strength and settings
    match, instead of being trained again.

    Returns:
        dict mapping a key string (see :func:`resampling_key`) to the run's result dict.
    """
    from tqdm.auto import tqdm

    from .real_data import digit_pairs

    grid = {}
    reusable = reuse is not None and reuse["seeds"][0] == seed and reuse["settings"] == {"epochs": epochs, **run_kwargs}
    if reusable:
        grid.update({key: reuse["runs"][row][0] for row, key in reuse["row_keys"].items()})
    for strength in tqdm(list(background_strengths), desc="resampling grid", disable=not progress):
        pairs = digit_pairs(background_strength=strength, seed=seed)
        trained = (reuse.get("first_seed_teachers", {}) if reusable and strength == reuse.get("background_strength")
                   else {})  # the table's own seed-0 teachers: same data, same seed
        teachers = {name: trained.get(name) or make_teacher(name, pairs, seed=seed, device=device) for name in TEACHERS}
        common = dict(background_strength=strength, epochs=epochs, seed=seed, pairs=pairs, device=device,
                      **run_kwargs)
        specs = [("simclr", teacher, None, 1, True)]
        specs += [(m, teacher, r, 1, True) for m, rs in (("drop_false_negative", (0.05, 0.2)),
                                                         ("drop_easy_negative", (0.1, 0.3))) for r in rs]
        specs += [("drop_false_positive", teacher, 0.1, 1, released) for released in (True, False)]
        specs += [("add_new_positive", t, None, k, True) for t in TEACHERS for k in (1, 3)]
        for method, teacher, ratio, top_k, released in specs:
            key = resampling_key(method, teacher, strength, ratio, top_k, released)
            if key in grid:  # already run by the table
                continue
            grid[key] = resampling_run(method, teacher, ratio=ratio, top_k=top_k, as_released=released,
                                       teacher_fn=teachers[teacher], **common)
    return grid


def resampling_key(method: str, teacher: str, background_strength: float, ratio, top_k: int, as_released: bool) -> str:
    """The grid key of one run; options that do not apply to ``method`` are normalised away and a drop
    method's ``ratio=None`` means its official default."""
    from ..resampling import DEFAULT_RATIOS

    if method in DEFAULT_RATIOS and ratio is None:
        ratio = DEFAULT_RATIOS[method]
    if method == "simclr":
        teacher, ratio, top_k, as_released = "-", None, 1, True
    elif method == "add_new_positive":
        ratio, as_released = None, True
    else:
        top_k = 1
        if method != "drop_false_positive":
            as_released = True
    return f"{method}|{teacher}|{background_strength:g}|{ratio}|{top_k}|{as_released}"


def resampling_lookup(grid: dict, method: str = "add_new_positive", teacher: str = "clip",
                      background_strength: float = 0.8, ratio=None, top_k: int = 1, as_released: bool = True) -> dict:
    """Read one run and its baseline from a :func:`resampling_grid` (no training).

    Returns:
        dict with ``method`` and ``baseline`` result dicts, ``gain`` (probe points), ``label``.

    Raises:
        ValueError: the combination is not in the grid (names the available options).
    """
    key = resampling_key(method, teacher, background_strength, ratio, top_k, as_released)
    base_key = resampling_key("simclr", teacher, background_strength, None, 1, True)
    if key not in grid or base_key not in grid:
        options = sorted(k for k in grid if k.startswith(method + "|"))
        raise ValueError(f"this combination was not precomputed ({key}); available for {method}: {options}")
    run, base = grid[key], grid[base_key]
    return {"method": run, "baseline": base, "gain": 100 * (run["linear_probe"] - base["linear_probe"]),
            "label": key}


_METHOD_NAMES = {"add_new_positive": "AddNewPositive", "drop_false_negative": "DropFalseNegative",
                 "drop_easy_negative": "DropEasyNegative", "drop_false_positive": "DropFalsePositive"}


def resampling_menu(grid: dict) -> list:
    """The runs a :func:`resampling_grid` holds (besides the baseline), as menu options: ``(label, run)`` with
    ``run = (method, teacher, ratio, top_k, as_released)`` for :func:`resampling_lookup_run`. Only computed
    combinations are listed, so every option of a menu built from it answers."""
    runs = set()
    for key in grid:
        method, teacher, _strength, ratio, top_k, released = key.split("|")
        if method != "simclr":
            runs.add((method, teacher, None if ratio == "None" else float(ratio), int(top_k), released == "True"))
    order = {m: i for i, m in enumerate(_METHOD_NAMES)}
    menu = []
    for run in sorted(runs, key=lambda r: (order[r[0]], r[1], r[2] or 0.0, r[3], not r[4])):
        method, teacher, ratio, top_k, released = run
        label = _METHOD_NAMES[method] + f" · teacher {teacher}" + (f" · top-{top_k}" if method == "add_new_positive"
                                                                  else f" · ratio {ratio:g}")
        if method == "drop_false_positive":
            label += " · as released" if released else " · as intended"
        menu.append((label, run))
    return menu


def resampling_lookup_run(grid: dict, run: tuple, background_strength: float = 0.8) -> dict:
    """:func:`resampling_lookup` for one ``run`` of :func:`resampling_menu` at a nuisance strength."""
    method, teacher, ratio, top_k, as_released = run
    return resampling_lookup(grid, method, teacher, background_strength, ratio=ratio, top_k=top_k,
                             as_released=as_released)


def bound_sweep(eps_values=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6), k_values=(1, 2, 3, 4, 6), **model) -> dict:
    """Bound and actual probe error of both graphs of the style-confounded model over caption noise and k.

    Returns:
        dict with ``eps`` (E,), ``k`` (K,), and for "sscl" and "mmcl" arrays ``bound`` and ``probe_error`` of
        shape (E, K); ``valid`` (all actual <= bound).
    """
    eps_values, k_values = list(eps_values), list(k_values)
    out = {"eps": np.array(eps_values, float), "k": np.array(k_values)}
    for name in ("sscl", "mmcl"):
        out[name] = {"bound": np.empty((len(eps_values), len(k_values))), "probe_error": np.empty((len(eps_values),
                                                                                                   len(k_values)))}
    for i, eps in enumerate(eps_values):
        for j, k in enumerate(k_values):
            res = style_confounded(**{**model, "eps": eps, "k": k})
            for name in ("sscl", "mmcl"):
                out[name]["bound"][i, j] = res[name]["bound"]
                out[name]["probe_error"][i, j] = res[name]["probe_error"]
    out["valid"] = bool(all(np.all(out[n]["probe_error"] <= out[n]["bound"] + 1e-12) for n in ("sscl", "mmcl")))
    return out
