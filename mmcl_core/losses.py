"""Contrastive losses: CLIP, SigLIP, NT-Xent (and its teacher-guided resampled variants), spectral, the linear MMCL
loss, and a learnable temperature.

All losses take torch tensors and return a 0-d tensor. Every softmax goes through
``log_softmax``/``logsigmoid`` so float32 inputs at temperature 0.01 with similarities
of size 1e4 stay finite.

Conventions (N = batch size, k = embedding dimension):

* ``clip_loss`` equals open_clip's ``ClipLoss`` with ``logit_scale = 1/temperature``.
* ``siglip_loss`` equals open_clip's ``SigLipLoss`` (sum over N^2 pairs, divided by N).
* ``nt_xent_loss`` equals lightly's ``NTXentLoss`` (cosine similarity, mean over 2N anchors).

Inputs: floating tensors of one dtype and device; float16/bfloat16 are computed in float32 (and the loss is float32).
Inputs whose logits overflow their dtype (a temperature near zero, huge embeddings) raise ValueError naming the
temperature (or scale) and the embeddings, never a NaN loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (check_alike, check_choice, check_finite_result, check_int, check_matrix, check_real,
                      check_same_rows)

__all__ = [
    "clip_loss",
    "siglip_loss",
    "nt_xent_loss",
    "clip_loss_batched",
    "nt_xent_loss_batched",
    "clip_loss_from_logits",
    "graph_infonce_from_logits",
    "spectral_contrastive_loss",
    "linear_mmcl_loss",
    "LearnableTemperature",
    "RESAMPLING_METHODS",
    "resampled_nt_xent",
]


def _check_tensors(named: dict, *, ndim: int | None = 2, min_rows: int = 1) -> list:
    """Floating tensors (``ndim`` dimensions; None: any) of one dtype and device, finite, float16/bfloat16 upcast to
    float32; returned in order."""
    for name, z in named.items():
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
    checked = {name: check_matrix(name, z, ndim=z.ndim if ndim is None else ndim, min_rows=min_rows)
               for name, z in named.items()}
    check_alike(**checked)
    return list(checked.values())


def _check_pair(name_a: str, z_a, name_b: str, z_b, *, min_rows: int = 1):
    z_a, z_b = _check_tensors({name_a: z_a, name_b: z_b}, min_rows=min_rows)
    check_same_rows(name_a, z_a, name_b, z_b)
    if z_a.shape[1] != z_b.shape[1]:
        raise ValueError(f"{name_a} and {name_b} must have the same embedding dimension, "
                         f"got {z_a.shape[1]} and {z_b.shape[1]}")
    return z_a, z_b


def _positive(name: str, value):
    """Validate a positive scalar; a learnable 0-d tensor is kept (for autograd), anything else becomes a float."""
    checked = check_real(name, value, low=0.0, low_open=True)
    return value if isinstance(value, torch.Tensor) else checked


def _finite_logits(logits: torch.Tensor, names: str) -> torch.Tensor:
    """``logits`` itself, after checking it is finite (the check does not touch the autograd graph)."""
    return check_finite_result(logits, names, f"the logits overflow {logits.dtype} (|similarity| / temperature "
                               "must stay below the dtype's largest number): use a larger temperature, smaller "
                               "embeddings or float64")


def clip_loss(z_a: torch.Tensor, z_b: torch.Tensor, temperature=0.07) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) loss.

    ``logits = z_a @ z_b.T / temperature``; the loss is the mean of the row-wise and the
    column-wise cross-entropy with the diagonal as targets. Embeddings are used as given
    (no normalisation inside), exactly like open_clip's ``ClipLoss``.

    Reproduces: Radford et al. 2021 (CLIP) loss; the object analysed by all four papers
    (e.g. Nakada et al. 2023, docs/papers/nakada2023.md: ``temperature * clip_loss`` is their L_CLIP).

    Args:
        z_a: (N, k) embeddings of modality a (e.g. images).
        z_b: (N, k) embeddings of modality b (e.g. texts); row i is paired with z_a row i.
        temperature: positive float or 0-d tensor (learnable temperatures keep their graph).

    Returns:
        0-d tensor, the loss (log N when all similarities are equal).

    Raises:
        TypeError: if inputs are not floating-point tensors.
        ValueError: on shape mismatch, non-finite values or temperature <= 0.

    Example:
        >>> z = torch.eye(4)
        >>> float(clip_loss(z, z, temperature=1e9))  # doctest: +ELLIPSIS
        1.386...
    """
    z_a, z_b = _check_pair("z_a", z_a, "z_b", z_b)
    logits = _finite_logits((z_a @ z_b.T) / _positive("temperature", temperature), "temperature, z_a, z_b")
    labels = torch.arange(z_a.shape[0], device=z_a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def _clip_loss_unchecked(z_a: torch.Tensor, z_b: torch.Tensor, temperature) -> torch.Tensor:
    """:func:`clip_loss` without the input checks (their data-dependent branches cannot run under ``torch.vmap``)."""
    logits = (z_a @ z_b.T) / temperature
    labels = torch.arange(z_a.shape[0], device=z_a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def siglip_loss(z_a: torch.Tensor, z_b: torch.Tensor, scale=10.0, bias=-10.0) -> torch.Tensor:
    """Pairwise sigmoid (SigLIP) loss in open_clip's convention.

    ``logits = scale * z_a @ z_b.T + bias``, labels +1 on the diagonal and -1 elsewhere,
    loss = ``-sum(logsigmoid(labels * logits)) / N``.

    Reproduces: Zhai et al. 2023 (SigLIP), open_clip ``SigLipLoss``.

    Args:
        z_a: (N, k) embeddings of modality a.
        z_b: (N, k) embeddings of modality b.
        scale: positive logit scale (float or 0-d tensor).
        bias: finite logit bias (float or 0-d tensor).

    Returns:
        0-d tensor (``N * log 2`` when all logits are zero).
    """
    z_a, z_b = _check_pair("z_a", z_a, "z_b", z_b)
    scale = _positive("scale", scale)
    checked_bias = check_real("bias", bias)
    bias = bias if isinstance(bias, torch.Tensor) else checked_bias
    n = z_a.shape[0]
    logits = scale * (z_a @ z_b.T) + bias
    _finite_logits(logits, "scale, bias, z_a, z_b")
    labels = 2.0 * torch.eye(n, device=z_a.device, dtype=logits.dtype) - 1.0
    return -F.logsigmoid(labels * logits).sum() / n


def nt_xent_loss(z_1: torch.Tensor, z_2: torch.Tensor, temperature=0.5, *, normalize: bool = True) -> torch.Tensor:
    """NT-Xent (SimCLR) loss in the lightly / solo-learn convention.

    The 2N views are anchors; each has one positive (its other view) and 2N-2 negatives,
    so 2N-1 candidates. Similarities are cosine similarities (``normalize=True``, as in
    lightly's ``NTXentLoss``); the loss is the mean over the 2N anchors.

    Reproduces: Chen et al. 2020 (SimCLR), the single-modal baseline of Huang et al. 2024
    and of Zhang et al. 2023's resampling experiment.

    Args:
        z_1: (N, k) embeddings of the first views.
        z_2: (N, k) embeddings of the second views.
        temperature: positive float.
        normalize: L2-normalise rows first (cosine similarity).

    Returns:
        0-d tensor (``log(2N-1)`` for collinear embeddings).
    """
    z_1, z_2 = _check_pair("z_1", z_1, "z_2", z_2)
    temperature = _positive("temperature", temperature)
    if normalize:
        z_1, z_2 = F.normalize(z_1, dim=1), F.normalize(z_2, dim=1)
    n = z_1.shape[0]
    z = torch.cat([z_1, z_2], dim=0)
    logits = (z @ z.T) / temperature
    _finite_logits(logits, "temperature, z_1, z_2")
    # An anchor is never its own candidate: mask the self-similarity out of the softmax.
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


def _check_batched(name_a: str, z_a, name_b: str, z_b, temperature):
    """Checks of the batched losses: two (S, N, k) floating tensors of one shape, finite; returns the temperature."""
    z_a, z_b = _check_tensors({name_a: z_a, name_b: z_b}, ndim=3)  # S >= 1 models, N >= 1 rows, k >= 1 columns
    if z_a.shape != z_b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(z_a.shape)} and "
                         f"{tuple(z_b.shape)}")
    return z_a, z_b, _positive("temperature", temperature)


def clip_loss_batched(z_a: torch.Tensor, z_b: torch.Tensor, temperature=0.07) -> torch.Tensor:
    """:func:`clip_loss` of many models at once: ``z_a``, ``z_b`` of shape (S, N, k) give the (S,) per-model losses."""
    z_a, z_b, tau = _check_batched("z_a", z_a, "z_b", z_b, temperature)
    s, n, _ = z_a.shape
    logits = torch.bmm(z_a, z_b.transpose(1, 2)) / tau
    _finite_logits(logits, "temperature, z_a, z_b")
    labels = torch.arange(n, device=z_a.device).repeat(s)
    rows = F.cross_entropy(logits.reshape(s * n, n), labels, reduction="none").reshape(s, n).mean(1)
    cols = F.cross_entropy(logits.transpose(1, 2).reshape(s * n, n), labels, reduction="none").reshape(s, n).mean(1)
    return 0.5 * (rows + cols)


def nt_xent_loss_batched(z_1: torch.Tensor, z_2: torch.Tensor, temperature=0.5) -> torch.Tensor:
    """:func:`nt_xent_loss` (cosine similarities) of many models at once: (S, N, k) views give (S,) losses."""
    z_1, z_2, tau = _check_batched("z_1", z_1, "z_2", z_2, temperature)
    s, n, _ = z_1.shape
    z = F.normalize(torch.cat([z_1, z_2], dim=1), dim=2)
    logits = torch.bmm(z, z.transpose(1, 2)) / tau
    _finite_logits(logits, "temperature, z_1, z_2")
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device).repeat(s)
    return F.cross_entropy(logits.reshape(s * 2 * n, 2 * n), targets, reduction="none").reshape(s, 2 * n).mean(1)


def clip_loss_from_logits(logits: torch.Tensor, positive_sum: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE of S models from their (S, B, B) logits, for loops that build the logits themselves.

    ``(sum_i logsumexp(row i) + sum_j logsumexp(column j) - 2 * positive_sum) / (2B)`` per model, with
    ``positive_sum`` the sum of the positive logits: the trace by default (row i pairs with column i), which makes
    it :func:`clip_loss_batched` on the same logits; with pseudo pairs, the sum of the picked logits (Nakada et al.'s
    released loss, docs/papers/nakada2023.md).

    Args:
        logits: (S, B, B) similarities already divided by the temperature.
        positive_sum: (S,) or None.

    Returns:
        (S,) tensor.
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 3 or logits.shape[1] != logits.shape[2]:
        raise ValueError(f"logits must be an (S, B, B) tensor, got shape {tuple(getattr(logits, 'shape', ()))}")
    if positive_sum is None:
        positive_sum = logits.diagonal(dim1=1, dim2=2).sum(1)
    elif not isinstance(positive_sum, torch.Tensor) or tuple(positive_sum.shape) != (logits.shape[0],):
        raise ValueError(f"positive_sum must be an ({logits.shape[0]},) tensor, got "
                         f"{tuple(getattr(positive_sum, 'shape', ()))}")
    b = logits.shape[1]
    return (logits.logsumexp(2).sum(1) + logits.logsumexp(1).sum(1) - 2 * positive_sum) / (2 * b)


def graph_infonce_from_logits(logits: torch.Tensor, graph: torch.Tensor) -> torch.Tensor:
    """Multi-positive InfoNCE of S models whose positive pairs are the edges of a bipartite graph (Nakada et al.'s
    noisy-graph experiment, docs/papers/nakada2023.md).

    Per model: ``-(sum_ij G_ij log softmax_row(logits)_ij + sum_ij G_ij log softmax_col(logits)_ij) / sum_ij G_ij``
    (the sum over edges, at least 1). With ``G = I`` it is twice :func:`clip_loss_from_logits`.

    Args:
        logits: (S, A, B) similarities already divided by the temperature.
        graph: (S, A, B) non-negative edge weights (a 0/1 adjacency per model).

    Returns:
        (S,) tensor.
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 3:
        raise ValueError(f"logits must be an (S, A, B) tensor, got shape {tuple(getattr(logits, 'shape', ()))}")
    if not isinstance(graph, torch.Tensor) or graph.shape != logits.shape:
        raise ValueError(f"graph must be a tensor of the logits' shape {tuple(logits.shape)}, got "
                         f"{tuple(getattr(graph, 'shape', ()))}")
    edges = graph.sum((1, 2)).clamp_min(1.0)
    return -((graph * logits.log_softmax(2)).sum((1, 2)) + (graph * logits.log_softmax(1)).sum((1, 2))) / edges


def spectral_contrastive_loss(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    """Multi-modal spectral contrastive loss (batch estimate).

    ``L = -2 mean_i <z_a_i, z_b_i> + mean_{i != j} <z_a_i, z_b_j>^2``: positives are the
    paired rows, negatives the N(N-1) unpaired combinations, an unbiased estimate of the
    product of the marginals. With ``z_a is z_b`` style inputs it is HaoChen et al.'s
    single-modal spectral loss.

    Reproduces: Zhang et al. 2023, L_MM (docs/papers/zhang2023.md); HaoChen et al. 2021.

    Args:
        z_a: (N, k) embeddings, N >= 2.
        z_b: (N, k) embeddings.

    Returns:
        0-d tensor.
    """
    z_a, z_b = _check_pair("z_a", z_a, "z_b", z_b, min_rows=2)
    n = z_a.shape[0]
    sims = z_a @ z_b.T
    positive = torch.diagonal(sims).mean()
    off_diag = ~torch.eye(n, dtype=torch.bool, device=sims.device)
    negative = sims[off_diag].pow(2).mean()
    return check_finite_result(-2.0 * positive + negative, "z_a, z_b",
                               f"the squared similarities overflow {sims.dtype}: use smaller embeddings or float64")


def linear_mmcl_loss(x: torch.Tensor, y: torch.Tensor, G1: torch.Tensor, G2: torch.Tensor,
                     rho: float = 1.0) -> torch.Tensor:
    """Linear MMCL loss with the (rho/2)||G1^T G2||_F^2 regulariser.

    With ``s_ij = <G1 x_i, G2 y_j>``:
    ``L = -(1/n) sum_i s_ii + 1/(n(n-1)) sum_{i != j} s_ij + (rho/2) ||G1^T G2||_F^2``.
    It equals ``-tr(M^T C) + (rho/2)||M||_F^2`` with ``M = G1^T G2`` and ``C`` the unbiased
    sample cross-covariance, so its minimiser over rank-r M is ``SVD_r(C)/rho``.

    Reproduces: Nakada et al. 2023, linear loss; Xue et al. 2024 (docs/papers/).

    Args:
        x: (n, d1) samples of modality 1, n >= 2.
        y: (n, d2) paired samples of modality 2.
        G1: (r, d1) linear encoder of modality 1.
        G2: (r, d2) linear encoder of modality 2.
        rho: regularisation strength >= 0.

    Returns:
        0-d tensor.
    """
    x, y, G1, G2 = _check_tensors({"x": x, "y": y, "G1": G1, "G2": G2})
    if x.shape[0] < 2:
        raise ValueError(f"x must have at least 2 rows (pairs), got shape {tuple(x.shape)}")
    check_same_rows("x", x, "y", y)
    if G1.shape[1] != x.shape[1]:
        raise ValueError(f"G1 must have shape (r, {x.shape[1]}) to act on x, got {tuple(G1.shape)}")
    if G2.shape[1] != y.shape[1]:
        raise ValueError(f"G2 must have shape (r, {y.shape[1]}) to act on y, got {tuple(G2.shape)}")
    if G1.shape[0] != G2.shape[0]:
        raise ValueError(f"G1 and G2 must have the same number of rows r, got {G1.shape[0]} and {G2.shape[0]}")
    rho = check_real("rho", rho, low=0.0)
    n = x.shape[0]
    sims = (x @ G1.T) @ (y @ G2.T).T
    diag_sum = torch.diagonal(sims).sum()
    off_sum = sims.sum() - diag_sum
    penalty = 0.5 * rho * (G1.T @ G2).pow(2).sum()
    return check_finite_result(-diag_sum / n + off_sum / (n * (n - 1)) + penalty, "x, y, G1, G2, rho",
                               f"the loss overflows {sims.dtype}: use smaller inputs or float64")


class LearnableTemperature(nn.Module):
    """CLIP's learnable temperature, stored as a log logit-scale.

    ``logit_scale = exp(log_logit_scale) = 1/temperature``, initialised at 1/0.07 and kept
    in [min_scale, max_scale] = [1, 100] by :meth:`clamp_`, which a training loop calls
    after each optimiser step (as open_clip does).

    Args:
        init_temperature: initial temperature, in [1/max_scale, 1/min_scale].
        min_scale, max_scale: clamp range of the logit scale, 0 < min_scale <= max_scale.

    Example:
        >>> t = LearnableTemperature()
        >>> round(float(t.logit_scale), 4)
        14.2857
    """

    def __init__(self, init_temperature: float = 0.07, min_scale: float = 1.0, max_scale: float = 100.0):
        super().__init__()
        min_scale = check_real("min_scale", min_scale, low=0.0, low_open=True)
        max_scale = check_real("max_scale", max_scale, low=min_scale)
        check_real("init_temperature", init_temperature, low=1.0 / max_scale, high=1.0 / min_scale)
        self.min_scale, self.max_scale = min_scale, max_scale
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature), dtype=torch.float32))

    @property
    def logit_scale(self) -> torch.Tensor:
        """0-d tensor, ``1/temperature`` (differentiable)."""
        return self.log_logit_scale.exp()

    @property
    def temperature(self) -> torch.Tensor:
        """0-d tensor, ``1/logit_scale`` (differentiable)."""
        return (-self.log_logit_scale).exp()

    def forward(self) -> torch.Tensor:
        """Return the current temperature (so ``clip_loss(a, b, temp())`` reads naturally)."""
        return self.temperature

    @torch.no_grad()
    def clamp_(self) -> "LearnableTemperature":
        """Clamp the logit scale into [min_scale, max_scale]; call after each optimiser step."""
        self.log_logit_scale.clamp_(math.log(self.min_scale), math.log(self.max_scale))
        return self

# --- CLIP-guided resampling (Zhang et al. 2023, Table 1) ------------------------------------------------------
#
# CLIP-guided resampling for SimCLR: NT-Xent variants driven by a teacher similarity matrix.
#
# The batch holds 2N views; views i and i+N are the positive pair. ``teacher`` is the (2N, 2N)
# cosine similarity of a teacher's embeddings of the same views (the paper uses CLIP's image
# encoder; here a CLIP-style digit model, caption similarity or oracle labels).
#
# Methods (ratios as in the official code ``PKU-ML/CLIP-Help-SimCLR``, ``models/losses.py``):
#
# * ``simclr`` — plain NT-Xent over the 2N anchors.
# * ``add_new_positive`` — for each anchor the teacher's top-k most similar other views become extra
#   positives: loss = (1 - w) L_SimCLR + w L_new, w = 1/2, k = 1.
# * ``drop_false_negative`` — per anchor, negatives at or above the ``ratio * 2N``-th largest teacher
#   similarity leave the denominator (ratio 5%).
# * ``drop_easy_negative`` — per anchor, negatives at or below the ``ratio * 2N``-th smallest teacher
#   similarity leave the denominator (ratio 10%).
# * ``drop_false_positive`` — the positive terms whose teacher similarity is among the lowest
#   ``ratio * 2N`` of the batch are dropped (ratio 10%). ``as_released=True`` reproduces the released
#   code, which recomputes the log-probabilities after masking and so equals plain SimCLR.
#
# Reproduces: Zhang et al. 2023, Table 1 methods (docs/papers/zhang2023.md, "The experiment").

RESAMPLING_METHODS = ("simclr", "add_new_positive", "drop_false_negative", "drop_easy_negative", "drop_false_positive")
RESAMPLING_RATIOS = {"drop_false_negative": 0.05, "drop_easy_negative": 0.1, "drop_false_positive": 0.1}


def resampled_nt_xent(z_1: torch.Tensor, z_2: torch.Tensor, teacher: torch.Tensor | None, method: str = "simclr", *,
                      temperature: float = 0.1, ratio: float | None = None, top_k: int = 1,
                      new_positive_weight: float = 0.5, as_released: bool = False) -> tuple[torch.Tensor, dict]:
    """NT-Xent with teacher-guided resampling.

    Args:
        z_1, z_2: (N, d) projections of the two views (L2-normalised inside).
        teacher: (2N, 2N) teacher similarity of the views ``cat([view1, view2])``; None only for "simclr".
        method: one of ``RESAMPLING_METHODS``.
        temperature: NT-Xent temperature.
        ratio: drop ratio of the drop_* methods, in (0, 1) (defaults 0.05 / 0.1 / 0.1); ``ratio * 2N`` must be at
            least 1 (ValueError otherwise: the released code raises IndexError there).
        top_k: number of teacher-picked new positives per anchor (add_new_positive).
        new_positive_weight: weight w of the new-positive loss (add_new_positive).
        as_released: drop_false_positive as in the released code (numerically plain SimCLR).

    Returns:
        ``(loss, info)``: 0-d loss tensor; ``info`` has ``picked`` ((2N, top_k) indices of teacher-picked
        positives, add_new_positive only) and ``kept_fraction`` (fraction of denominator entries or
        positive terms kept).
    """
    check_choice("method", method, RESAMPLING_METHODS)
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    if z_1.ndim != 2 or z_1.shape != z_2.shape or z_1.shape[0] < 2:
        raise ValueError(f"z_1 and z_2 must have the same shape (N, d) with N >= 2, got {tuple(z_1.shape)} "
                         f"and {tuple(z_2.shape)}")
    n = z_1.shape[0]
    n2 = 2 * n
    if method != "simclr":
        if teacher is None or tuple(teacher.shape) != (n2, n2):
            raise ValueError(f"teacher must be a ({n2}, {n2}) similarity matrix for method {method!r}")
        if not torch.isfinite(teacher).all():
            raise ValueError("teacher must contain only finite values")
    z = F.normalize(torch.cat([z_1, z_2]), dim=1)
    logits = z @ z.T / temperature
    idx = torch.arange(n2, device=z.device)
    partner = (idx + n) % n2
    eye = torch.eye(n2, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(eye, float("-inf"))
    info: dict = {"kept_fraction": 1.0}
    if method == "simclr":
        return _nll(logits, idx, partner).mean(), info
    s = teacher.to(z.dtype)
    if method == "add_new_positive":
        return _add_new_positive(logits, s, eye, idx, partner, top_k, new_positive_weight, info)
    return _drop(method, logits, s, eye, idx, partner, ratio, as_released, info)


def _nll(logits: torch.Tensor, idx: torch.Tensor, partner: torch.Tensor) -> torch.Tensor:
    """Per-anchor negative log-probability of the positive partner."""
    return -(logits.log_softmax(dim=1)[idx, partner])


def _add_new_positive(logits, s, eye, idx, partner, top_k, new_positive_weight, info: dict):
    """AddNewPositive: the teacher's top-k other views become extra positives, weighted ``w`` against SimCLR's."""
    n2 = logits.shape[0]
    top_k = check_int("top_k", top_k, low=1, high=n2 - 2)
    w = check_real("new_positive_weight", new_positive_weight, low=0.0, high=1.0)
    excluded = s.masked_fill(eye, float("-inf"))
    excluded[idx, partner] = float("-inf")  # the anchor itself and its own positive are not "new"
    picked = excluded.topk(top_k, dim=1).indices  # (2N, top_k)
    logp = logits.log_softmax(dim=1)
    new = -logp.gather(1, picked).mean(dim=1)
    info["picked"] = picked
    return (1 - w) * _nll(logits, idx, partner).mean() + w * new.mean(), info


def _drop(method, logits, s, eye, idx, partner, ratio, as_released: bool, info: dict):
    """The three drop methods: teacher-chosen positive terms or denominator entries leave the loss."""
    n2 = logits.shape[0]
    ratio = (RESAMPLING_RATIOS[method] if ratio is None
             else check_real("ratio", ratio, low=0.0, high=1.0, low_open=True, high_open=True))
    count = int(ratio * n2)
    if count < 1:  # the released code fails here too (topk(0) -> IndexError); never a silent fallback to SimCLR
        raise ValueError(f"ratio * 2N = {ratio:g} * {n2} < 1: {method} would drop nothing at this batch size; use at "
                         f"least {int(-(-1 // (2 * ratio)))} pairs per batch (z_1 rows) or a larger ratio")
    if method == "drop_false_positive":
        pos_sim = s[idx, partner]
        threshold = pos_sim.sort().values[count - 1]  # the count-th smallest positive similarity
        keep = pos_sim > threshold
        info["kept_fraction"] = float(keep.float().mean())
        if as_released:
            # The released code masks, then recomputes log_softmax over the unmasked logits and divides by 2N.
            return _nll(logits, idx, partner).mean(), info
        return _nll(logits, idx, partner)[keep].sum() / keep.sum().clamp(min=1), info
    if method == "drop_false_negative":
        threshold = s.topk(count, dim=1).values[:, -1:]  # count-th largest per row
        drop = s >= threshold
    else:  # drop_easy_negative
        threshold = (-s).topk(count, dim=1).values[:, -1:].neg()  # count-th smallest per row
        drop = s <= threshold
    drop[idx, partner] = False  # the positive always stays
    info["kept_fraction"] = float(1 - (drop & ~eye).float().sum() / (n2 * (n2 - 1)))
    return _nll(logits.masked_fill(drop, float("-inf")), idx, partner).mean(), info
