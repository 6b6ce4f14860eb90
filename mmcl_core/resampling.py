"""CLIP-guided resampling for SimCLR: NT-Xent variants driven by a teacher similarity matrix.

The batch holds 2N views; views i and i+N are the positive pair. ``teacher`` is the (2N, 2N)
cosine similarity of a teacher's embeddings of the same views (the paper uses CLIP's image
encoder; here a CLIP-style digit model, caption similarity or oracle labels).

Methods (ratios as in the official code ``PKU-ML/CLIP-Help-SimCLR``, ``models/losses.py``):

* ``simclr`` — plain NT-Xent over the 2N anchors.
* ``add_new_positive`` — for each anchor the teacher's top-k most similar other views become extra
  positives: loss = (1 - w) L_SimCLR + w L_new, w = 1/2, k = 1.
* ``drop_false_negative`` — per anchor, negatives at or above the ``ratio * 2N``-th largest teacher
  similarity leave the denominator (ratio 5%).
* ``drop_easy_negative`` — per anchor, negatives at or below the ``ratio * 2N``-th smallest teacher
  similarity leave the denominator (ratio 10%).
* ``drop_false_positive`` — the positive terms whose teacher similarity is among the lowest
  ``ratio * 2N`` of the batch are dropped (ratio 10%). ``as_released=True`` reproduces the released
  code, which recomputes the log-probabilities after masking and so equals plain SimCLR.

Reproduces: Zhang et al. 2023, Table 1 methods (docs/papers/zhang2023.md, "The experiment").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import check_choice, check_int, check_real

__all__ = ["METHODS", "resampled_nt_xent"]

METHODS = ("simclr", "add_new_positive", "drop_false_negative", "drop_easy_negative", "drop_false_positive")
DEFAULT_RATIOS = {"drop_false_negative": 0.05, "drop_easy_negative": 0.1, "drop_false_positive": 0.1}


def resampled_nt_xent(z_1: torch.Tensor, z_2: torch.Tensor, teacher: torch.Tensor | None, method: str = "simclr", *,
                      temperature: float = 0.1, ratio: float | None = None, top_k: int = 1,
                      new_positive_weight: float = 0.5, as_released: bool = False) -> tuple[torch.Tensor, dict]:
    """NT-Xent with teacher-guided resampling.

    Args:
        z_1, z_2: (N, d) projections of the two views (L2-normalised inside).
        teacher: (2N, 2N) teacher similarity of the views ``cat([view1, view2])``; None only for "simclr".
        method: one of ``METHODS``.
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
    check_choice("method", method, METHODS)
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
    ratio = (DEFAULT_RATIOS[method] if ratio is None
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
