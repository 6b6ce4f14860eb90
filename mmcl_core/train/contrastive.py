"""One device-aware training loop for CLIP-style paired training and SimCLR-style
single-modal training (the losses from :mod:`mmcl_core.losses`).

* ``mode="clip"``: images through the image tower, frozen text embeddings through a text head,
  both L2-normalised, symmetric InfoNCE (:func:`~mmcl_core.losses.clip_loss`).
* ``mode="simclr"``: two augmented views of each image through the image tower,
  NT-Xent (:func:`~mmcl_core.losses.nt_xent_loss`).

Batches are shuffled and augmented with a seeded ``torch.Generator``: same seed, same numbers.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_choice, check_int, check_real
from ..data.augment import augment
from ..device import get_device
from ..losses import LearnableTemperature, _clip_loss_unchecked, clip_loss, nt_xent_loss

__all__ = ["StackedMLP", "train_clip_batched", "train_contrastive", "train_simclr_shared_views", "train_stacked",
           "train_supervised"]


def _as_tensor(name, a, device):
    if isinstance(a, np.ndarray):
        a = torch.from_numpy(np.ascontiguousarray(a))
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"{name} must be a NumPy array or torch tensor, got {type(a).__name__}")
    if not torch.isfinite(a).all():
        raise ValueError(f"{name} must contain only finite values")
    return a.to(device=device, dtype=torch.float32)


def train_contrastive(image_tower: torch.nn.Module, images, *, mode: str = "clip", text_embeddings=None,
                      text_head: torch.nn.Module | None = None, epochs: int = 30, batch_size: int = 128,
                      lr: float = 2e-3, weight_decay: float = 1e-4, temperature: float = 0.1,
                      learn_temperature: bool = False, augment_kwargs: dict | None = None, pair_loss=None,
                      seed: int = 0, device: str = "auto", progress: bool = False) -> dict:
    """Train contrastively; the towers are updated in place.

    Args:
        image_tower, images: module mapping (b, C, 8, 8) images to (b, k) embeddings; (n, C, 8, 8) images.
        mode: "clip" (needs ``text_embeddings``, (n, t) frozen captions of ``images``, and ``text_head``, a module
            mapping (b, t) to (b, k)) or "simclr".
        epochs, batch_size, lr, weight_decay: AdamW schedule (constant learning rate).
        temperature: InfoNCE temperature (initial value if ``learn_temperature``).
        learn_temperature: learn it as a clamped log logit-scale (CLIP).
        augment_kwargs: keyword arguments of :func:`mmcl_core.data.augment.augment` (simclr mode; in clip
            mode, given means the images are augmented too, e.g. ``{}`` for the defaults).
        pair_loss: simclr mode only: ``pair_loss(z_1, z_2, views_1, views_2, idx) -> loss`` replacing
            NT-Xent (e.g. teacher-guided resampling); ``idx`` are the batch's row indices.
        seed, device, progress: seed of shuffling and augmentation; "auto", "cpu", "cuda" or "mps"; a progress bar.

    Returns:
        dict with ``history`` (``loss`` and ``temperature`` per epoch), ``seconds``, ``device``.
    """
    check_choice("mode", mode, ("clip", "simclr"))
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=2)
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    dev = get_device(device)
    x = _training_images(images, dev)
    if pair_loss is not None and mode != "simclr":
        raise ValueError("pair_loss applies to mode='simclr' only")
    t = _paired_text(text_embeddings, text_head, x.shape[0], dev) if mode == "clip" else None
    temp_module = LearnableTemperature(init_temperature=temperature, min_scale=min(1.0, 1.0 / temperature),
                                       max_scale=max(100.0, 1.0 / temperature)).to(dev) if learn_temperature else None
    params = [*image_tower.parameters(), *(text_head.parameters() if mode == "clip" else ()),
              *(temp_module.parameters() if temp_module is not None else ())]
    optimiser = torch.optim.AdamW(params, lr=check_real("lr", lr, low=0.0, low_open=True),
                                  weight_decay=check_real("weight_decay", weight_decay, low=0.0))
    gen = torch.Generator(device=dev).manual_seed(seed)
    aug, history = dict(augment_kwargs or {}), {"loss": [], "temperature": []}
    augmented = (lambda b: augment(b, gen, **aug)) if mode == "simclr" or augment_kwargs is not None else None

    def step(idx):
        tau = temp_module() if temp_module is not None else temperature
        return _batch_loss(image_tower, text_head, x[idx], t[idx] if t is not None else None, idx, tau, augmented,
                           pair_loss)

    def after_epoch(losses):
        history["loss"].append(float(np.mean([loss.item() for loss in losses])))
        history["temperature"].append(temp_module.temperature.item() if temp_module is not None else temperature)

    start = time.perf_counter()
    image_tower.train()
    _fit(step, optimiser, lambda: torch.randperm(x.shape[0], generator=gen, device=dev), epochs=epochs,
         batch_size=batch_size, after_epoch=after_epoch,
         after_step=temp_module.clamp_ if temp_module is not None else None, progress=progress,
         desc=f"{mode} training")
    for module in (image_tower, text_head) if text_head is not None else (image_tower,):
        module.eval()
    return {"history": history, "seconds": time.perf_counter() - start, "device": str(dev)}


def _training_images(images, dev) -> torch.Tensor:
    x = _as_tensor("images", images, dev)
    if x.shape[0] < 2:
        raise ValueError(f"images must hold at least 2 samples, got {x.shape[0]}")
    return x


def _fit(step, optimiser, order, *, epochs: int, batch_size: int, after_epoch, after_step=None,
         progress: bool = False, desc: str = "") -> None:
    """The minibatch loop of the trainers: each epoch draws ``order()`` (a permutation of the rows along its last
    axis; one per model for :func:`train_clip_batched`) and walks its batches (a last batch under 2 samples is
    skipped); ``step(idx)`` returns the loss (0-d, or one per model, summed for the gradient); ``after_epoch``
    receives the epoch's detached losses."""
    from tqdm.auto import tqdm

    for _ in tqdm(range(epochs), desc=desc, disable=not progress, leave=False):
        rows, losses = order(), []
        for lo in range(0, rows.shape[-1] - 1, batch_size):
            idx = rows[..., lo:lo + batch_size]
            if idx.shape[-1] < 2:
                continue
            loss = step(idx)
            optimiser.zero_grad(set_to_none=True)
            loss.sum().backward()
            optimiser.step()
            if after_step is not None:
                after_step()
            losses.append(loss.detach())
        after_epoch(losses)


def _epoch_means(losses: list):
    """The ``after_epoch`` of the batched trainers: collects each epoch's mean loss per model (float64, on CPU)."""
    return lambda ls: losses.append(sum(loss.double().cpu() for loss in ls) / len(ls))


def _stacked(modules: list, dev) -> tuple:
    """Stacked parameters and buffers of equal modules (``torch.func.stack_module_state``) and a stateless copy."""
    import copy

    from torch.func import stack_module_state

    modules = [m.to(dev).train() for m in modules]
    params, buffers = stack_module_state(modules)
    return modules, params, buffers, copy.deepcopy(modules[0]).to("meta")


def _batch_loss(image_tower, text_head, xb, tb, idx, tau, augmented, pair_loss):
    """One batch of :func:`train_contrastive`: CLIP loss against ``tb`` when given, else NT-Xent (or ``pair_loss``)
    on two augmented views; ``augmented`` draws the views (None: the images as they are, CLIP only)."""
    if tb is not None:
        z_img = F.normalize(image_tower(xb if augmented is None else augmented(xb)), dim=1)
        return clip_loss(z_img, F.normalize(text_head(tb), dim=1), tau)
    v1, v2 = augmented(xb), augmented(xb)
    z1, z2 = image_tower(v1), image_tower(v2)
    return nt_xent_loss(z1, z2, tau) if pair_loss is None else pair_loss(z1, z2, v1, v2, idx)


def _paired_text(text_embeddings, text_head, n: int, dev) -> torch.Tensor:
    """The caption embeddings of ``mode="clip"``, checked against the ``n`` images."""
    if text_embeddings is None or text_head is None:
        raise ValueError("mode='clip' needs text_embeddings and text_head")
    t = _as_tensor("text_embeddings", text_embeddings, dev)
    if t.shape[0] != n:
        raise ValueError(f"text_embeddings must have {n} rows (one per image), got {t.shape[0]}")
    return t


def _write_back(stacked: dict, modules: list) -> None:
    """Copy stacked parameters (name -> (B, ...)) back into B modules, and put them in eval mode."""
    with torch.no_grad():
        for b, module in enumerate(modules):
            for name, param in module.named_parameters():
                param.copy_(stacked[name][b])
            module.eval()


def train_supervised(tower: torch.nn.Module, images, labels, *, n_classes: int, epochs: int = 30,
                     batch_size: int = 128, lr: float = 2e-3, weight_decay: float = 1e-4, seed: int = 0,
                     device: str = "auto") -> tuple:
    """Cross-entropy training of ``tower`` plus a linear classification head (the supervised baseline).

    Args:
        tower: module mapping (b, C, 8, 8) images to (b, k) features; updated in place.
        images: (n, C, 8, 8) images; labels: (n,) ints in [0, n_classes).
        epochs, batch_size, lr, weight_decay: AdamW schedule (constant learning rate), as :func:`train_contrastive`.

    Returns:
        ``(head, run)``: the trained linear head (seeded with ``seed + 1``) and a dict with ``history`` (``loss`` per
        epoch), ``seconds``, ``device``.
    """
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=2)
    n_classes = check_int("n_classes", n_classes, low=2)
    dev = get_device(device)
    x = _as_tensor("images", images, dev)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=dev)
    if y.shape != (x.shape[0],) or int(y.min()) < 0 or int(y.max()) >= n_classes:
        raise ValueError(f"labels must be {x.shape[0]} integers in [0, {n_classes}), got shape {tuple(y.shape)}")
    with torch.no_grad():
        width = tower(x[:2]).shape[1]
    from ..models import make_tower

    head = make_tower(width, n_classes, n_hidden=0, seed=seed + 1, device=dev)  # a seeded linear head
    optimiser = torch.optim.AdamW(list(tower.parameters()) + list(head.parameters()), lr=check_real("lr", lr, low=0.0,
                                  low_open=True), weight_decay=check_real("weight_decay", weight_decay, low=0.0))
    gen = torch.Generator(device=dev).manual_seed(seed)
    history = {"loss": []}
    start = time.perf_counter()
    tower.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen, device=dev)
        losses = []
        for lo in range(0, len(y), batch_size):
            idx = order[lo:lo + batch_size]
            loss = F.cross_entropy(head(tower(x[idx])), y[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        history["loss"].append(float(np.mean(losses)))
    tower.eval()
    return head, {"history": history, "seconds": time.perf_counter() - start, "device": str(dev)}


def train_clip_batched(image_towers: list, text_heads: list, images, text_embeddings, *, seeds, epochs: int = 30,
                       batch_size: int = 128, lr: float = 2e-3, weight_decay: float = 1e-4,
                       temperature: float = 0.1, device: str = "auto") -> dict:
    """Train B independent CLIP-style models (image tower + text head each) as one batched program.

    The towers' parameters are stacked (``torch.func.stack_module_state``) and every model's loss is evaluated under
    ``torch.vmap``; the summed loss gives each model its own gradient, and AdamW acts elementwise, so model b follows
    :func:`train_contrastive` (``mode="clip"``, no augmentation) with ``seed=seeds[b]``: the same initialisation,
    the same batch order, the same updates up to float rounding. Faster than a loop because each step is a few
    large batched products instead of B small ones.

    Args:
        image_towers, text_heads: B modules each, with equal architectures; updated in place at the end.
        images: (n, C, 8, 8); text_embeddings: (n, t) frozen caption embeddings.
        seeds: B seeds (each model's batch order, as in :func:`train_contrastive`).

    Returns:
        dict with ``loss`` (B, epochs) mean loss per epoch, ``seconds``, ``device``.
    """
    from torch.func import functional_call

    seeds = [check_int("seed", s, low=0) for s in seeds]
    B = len(seeds)
    if B < 1 or len(image_towers) != B or len(text_heads) != B:
        raise ValueError(f"image_towers, text_heads and seeds must have the same positive length, got "
                         f"{len(image_towers)}, {len(text_heads)}, {B}")
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=2)
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    dev = get_device(device)
    x = _as_tensor("images", images, dev)
    t = _as_tensor("text_embeddings", text_embeddings, dev)
    n = x.shape[0]
    if t.shape[0] != n:
        raise ValueError(f"text_embeddings must have {n} rows (one per image), got {t.shape[0]}")
    towers, p_img, b_img, base_img = _stacked(image_towers, dev)
    heads, p_txt, b_txt, base_txt = _stacked(text_heads, dev)
    params = list(p_img.values()) + list(p_txt.values())
    optimiser = torch.optim.AdamW(params, lr=check_real("lr", lr, low=0.0, low_open=True),
                                  weight_decay=check_real("weight_decay", weight_decay, low=0.0))

    def one_loss(pi, bi, pt, bt, xb, tb):
        z_img = F.normalize(functional_call(base_img, (pi, bi), (xb,)), dim=1)
        z_txt = F.normalize(functional_call(base_txt, (pt, bt), (tb,)), dim=1)
        return _clip_loss_unchecked(z_img, z_txt, temperature)  # inputs checked above; vmap needs no branches

    batched_loss = torch.vmap(one_loss)
    gens = [torch.Generator(device=dev).manual_seed(s) for s in seeds]
    epoch_losses = []
    start = time.perf_counter()
    _fit(lambda idx: batched_loss(p_img, b_img, p_txt, b_txt, x[idx], t[idx]), optimiser,  # (B,) losses
         lambda: torch.stack([torch.randperm(n, generator=g, device=dev) for g in gens]),  # (B, n): one order each
         epochs=epochs, batch_size=batch_size, after_epoch=_epoch_means(epoch_losses))
    losses = torch.stack(epoch_losses, dim=1)  # (B, epochs)
    _write_back(p_img, towers)  # the trained weights, back into the modules
    _write_back(p_txt, heads)
    return {"loss": losses.numpy(), "seconds": time.perf_counter() - start, "device": str(dev)}


def train_simclr_shared_views(towers: list, images, *, pair_loss=None, epochs: int = 30, batch_size: int = 128,
                              lr: float = 2e-3, weight_decay: float = 1e-4, temperature: float = 0.1,
                              augment_kwargs: dict | None = None, seed: int = 0, device: str = "auto") -> dict:
    """Train M SimCLR-style towers that see the same batches and views as one batched program.

    Every tower follows :func:`train_contrastive` (``mode="simclr"``) with the same ``seed``: the same batch order and
    the same augmented views (drawn once per step for all of them), its own parameters and loss. The towers'
    parameters are stacked (``torch.func.stack_module_state``) and evaluated under ``torch.vmap``; the losses are
    summed, so each tower gets its own gradient, and AdamW is elementwise: tower m's updates equal a separate run's up
    to float rounding. This is how one table of resampling methods (:func:`mmcl_core.losses.resampled_nt_xent`) trains
    its students: one augmentation and one teacher pass per step instead of one per method.

    Args:
        towers: M modules with equal architectures (typically the same initialisation); updated in place at the end.
        images: (n, C, 8, 8) images (NumPy or torch).
        pair_loss: ``pair_loss(z_1, z_2, views_1, views_2, idx) -> (M,) losses`` with ``z_1``, ``z_2`` of shape
            (M, b, k); default: NT-Xent for every tower.
        epochs, batch_size, lr, weight_decay, temperature, augment_kwargs, seed: as :func:`train_contrastive`.

    Returns:
        dict with ``loss`` (M, epochs) mean loss per epoch, ``seconds``, ``device``.
    """
    from torch.func import functional_call

    if not isinstance(towers, (list, tuple)) or not towers:
        raise ValueError(f"towers must be a non-empty list of modules, got {towers!r}")
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=2)
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    dev = get_device(device)
    x = _training_images(images, dev)
    n = x.shape[0]
    modules, params, buffers, base = _stacked(towers, dev)
    optimiser = torch.optim.AdamW(list(params.values()), lr=check_real("lr", lr, low=0.0, low_open=True),
                                  weight_decay=check_real("weight_decay", weight_decay, low=0.0))
    forward = torch.vmap(lambda p, b, v: functional_call(base, (p, b), (v,)), in_dims=(0, 0, None))
    if pair_loss is None:
        def pair_loss(z1, z2, v1, v2, idx):
            return torch.stack([nt_xent_loss(z1[m], z2[m], temperature) for m in range(z1.shape[0])])
    gen = torch.Generator(device=dev).manual_seed(check_int("seed", seed, low=0))
    aug = dict(augment_kwargs or {})
    epoch_losses = []

    def step(idx):
        v1, v2 = augment(x[idx], gen, **aug), augment(x[idx], gen, **aug)
        z = forward(params, buffers, torch.cat([v1, v2]))  # (M, 2b, k): both views in one pass
        return pair_loss(z[:, :len(idx)], z[:, len(idx):], v1, v2, idx)

    start = time.perf_counter()
    _fit(step, optimiser, lambda: torch.randperm(n, generator=gen, device=dev), epochs=epochs, batch_size=batch_size,
         after_epoch=_epoch_means(epoch_losses))
    losses = torch.stack(epoch_losses, dim=1)  # (M, epochs)
    _write_back(params, modules)  # the trained weights, back into the modules
    return {"loss": losses.numpy(), "seconds": time.perf_counter() - start, "device": str(dev)}


class StackedMLP:
    """S independent one-hidden-layer MLPs (``in -> hidden -> out``, ReLU) held as stacked tensors, so a forward
    pass of all of them is two batched matmuls. Initialised like ``torch.nn.Linear``, each from its own seed."""

    def __init__(self, seeds, in_dim: int, hidden_dim: int, out_dim: int, device):
        self.params = []
        for fan_in, fan_out in ((in_dim, hidden_dim), (hidden_dim, out_dim)):
            bound = 1.0 / fan_in ** 0.5
            w, b = [], []
            for s in seeds:
                g = torch.Generator().manual_seed(int(s) * 7919 + fan_in)
                w.append((torch.rand(fan_in, fan_out, generator=g) * 2 - 1) * bound)
                b.append((torch.rand(1, fan_out, generator=g) * 2 - 1) * bound)
            self.params += [torch.stack(w).to(device).requires_grad_(), torch.stack(b).to(device).requires_grad_()]

    def __call__(self, x: torch.Tensor, *, hidden: bool = False) -> torch.Tensor:
        """(S, B, in) -> (S, B, out); ``hidden=True`` returns the (S, B, hidden) ReLU layer instead."""
        w1, b1, w2, b2 = self.params
        h = torch.relu(torch.baddbmm(b1, x, w1))
        return h if hidden else torch.baddbmm(b2, h, w2)

    def features(self, x: torch.Tensor, *, hidden: bool = False, batch_size: int = 1024) -> np.ndarray:
        """Features of (S, n, in) inputs without gradients, as (S, n, dim) float64 NumPy."""
        with torch.no_grad():
            parts = [self(x[:, i:i + batch_size], hidden=hidden).cpu() for i in range(0, x.shape[1], batch_size)]
        return torch.cat(parts, dim=1).double().numpy()


class StackedCNN:
    """S independent small CNNs held as stacked tensors (grouped convolutions): ``conv3x3(C->c1) - ReLU - maxpool2 -
    conv3x3(c1->c2) - ReLU - maxpool2 - flatten - hidden - ReLU - out``. Takes flattened (S, B, C*H*W) inputs like
    :class:`StackedMLP`; ``hidden=True`` returns the ``hidden_dim`` layer. Each model initialised from its own seed."""

    def __init__(self, seeds, image_shape, hidden_dim: int, out_dim: int, device, channels=(16, 32)):
        self.S, self.shape, self.channels = len(seeds), tuple(int(v) for v in image_shape), tuple(channels)
        c, h, w = self.shape
        convs = []
        for cin, cout in ((c, channels[0]), (channels[0], channels[1])):
            bound = 1.0 / (cin * 9) ** 0.5
            ws, bs = [], []
            for s in seeds:
                g = torch.Generator().manual_seed(int(s) * 7919 + cin * 31 + cout)
                ws.append((torch.rand(cout, cin, 3, 3, generator=g) * 2 - 1) * bound)
                bs.append((torch.rand(cout, generator=g) * 2 - 1) * bound)
            convs += [torch.cat(ws).to(device).requires_grad_(), torch.cat(bs).to(device).requires_grad_()]
        flat = channels[1] * (h // 4) * (w // 4)
        self.head = StackedMLP(seeds, flat, hidden_dim, out_dim, device)
        self.params = convs + self.head.params

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        S, B = x.shape[:2]
        c, h, w = self.shape
        y = x.reshape(S, B, c, h, w).transpose(0, 1).reshape(B, S * c, h, w)
        for k in range(2):
            y = torch.nn.functional.conv2d(y, self.params[2 * k], self.params[2 * k + 1], padding=1, groups=S)
            y = torch.nn.functional.max_pool2d(torch.relu(y), 2)
        return y.reshape(B, S, -1).transpose(0, 1)

    def __call__(self, x: torch.Tensor, *, hidden: bool = False) -> torch.Tensor:
        return self.head(self._trunk(x), hidden=hidden)

    features = StackedMLP.features


ENCODERS = ("mlp", "cnn")


def train_stacked(images, *, seeds, mode: str = "clip", text=None, hidden_dim: int = 512, out_dim: int = 128,
                  text_hidden_dim: int = 256, epochs: int = 30, batch_size: int = 256, lr: float = 1e-3,
                  temperature: float = 0.1, crop_scale: float = 0.3, encoder: str = "mlp", device="auto") -> dict:
    """Train one MLP image tower per seed as one batched program: SimCLR or CLIP-style.

    * ``mode="simclr"``: two random resized crops of each image (area fraction uniform in ``[crop_scale, 1]``, no
      colour change), NT-Xent (:func:`~mmcl_core.losses.nt_xent_loss_batched`).
    * ``mode="clip"``: each image against its caption embedding through a trainable text MLP, both L2-normalised,
      symmetric InfoNCE (:func:`~mmcl_core.losses.clip_loss_batched`).

    Every seed has its own initialisation, batch order and crops (its own ``torch.Generator``), so a seed's model does
    not depend on which other seeds are trained beside it. Adam, one optimiser over the stacked tensors (Adam is
    elementwise, so this is one Adam per model).

    Args:
        images, seeds, text: (S, n, C, H, W) images, one set per seed; S non-negative integers; (S, n, t) caption
            embeddings (``mode="clip"``).
        crop_scale: smallest crop area fraction, in (0, 1].
        encoder: image tower: ``"mlp"`` (pixels -> hidden -> out) or ``"cnn"`` (:class:`StackedCNN`).

    Returns:
        dict with ``image`` (the :class:`StackedMLP`), ``text`` (the text head, or None), ``losses`` (S, epochs)
        mean loss per epoch, ``seconds``.
    """
    from ..losses import clip_loss_batched

    check_choice("mode", mode, ("simclr", "clip"))
    seeds = [check_int("seed", s, low=0) for s in seeds]
    epochs, batch_size = check_int("epochs", epochs, low=1), check_int("batch_size", batch_size, low=2)
    crop_scale, dev = check_real("crop_scale", crop_scale, low=0.0, high=1.0, low_open=True), get_device(device)
    x = _as_tensor("images", images, dev)
    if x.ndim != 5 or x.shape[0] != len(seeds):
        raise ValueError(f"images must be (S, n, C, H, W) with S = len(seeds) = {len(seeds)}, got {tuple(x.shape)}")
    S, n = x.shape[:2]
    image_tower = (StackedMLP(seeds, int(np.prod(x.shape[2:])), hidden_dim, out_dim, dev)
                   if check_choice("encoder", encoder, ENCODERS) == "mlp"
                   else StackedCNN(seeds, x.shape[2:], hidden_dim, out_dim, dev))
    t, text_head = _stacked_text(text, seeds, (S, n), text_hidden_dim, out_dim, dev) if mode == "clip" else (None, None)
    params = list(image_tower.params) + (text_head.params if text_head is not None else [])
    opt = torch.optim.Adam(params, lr=check_real("lr", lr, low=0.0, low_open=True))
    gens = [torch.Generator(device=dev).manual_seed(s) for s in seeds]
    losses, flat, rows = np.zeros((S, epochs)), x.reshape(S, n, -1), torch.arange(S, device=dev)[:, None]
    start = time.perf_counter()
    def step(idx):
        if mode == "simclr":
            loss = _stacked_simclr_loss(image_tower, x[rows, idx], gens, crop_scale, temperature)
        else:
            loss = clip_loss_batched(F.normalize(image_tower(flat[rows, idx]), dim=2),
                                     F.normalize(text_head(t[rows, idx]), dim=2), temperature)
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        return loss.detach()

    for epoch in range(epochs):
        order = torch.stack([torch.randperm(n, generator=g, device=dev) for g in gens])
        batches = [order[:, i:i + batch_size]  # full batches (all n when n < batch_size)
                   for i in range(0, max(n - batch_size, 0) + 1, batch_size)]
        losses[:, epoch] = (sum(step(idx) for idx in batches) / len(batches)).cpu().numpy()
    return {"image": image_tower, "text": text_head, "losses": losses, "seconds": time.perf_counter() - start}


def _stacked_text(text, seeds, shape: tuple, hidden_dim: int, out_dim: int, dev) -> tuple:
    """The (S, n, t) caption embeddings of :func:`train_stacked`'s CLIP mode and their stacked text MLP."""
    if text is None:
        raise ValueError("text embeddings are required for mode='clip'")
    t = _as_tensor("text", text, dev)
    if t.ndim != 3 or t.shape[:2] != shape:
        raise ValueError(f"text must be (S, n, t) matching images, got {tuple(t.shape)}")
    return t, StackedMLP([s + 1 for s in seeds], t.shape[2], hidden_dim, out_dim, dev)


def _stacked_simclr_loss(image_tower, xb, gens, crop_scale: float, temperature: float) -> torch.Tensor:
    """NT-Xent per model on two random resized crops of each model's batch ``xb`` (S, b, C, H, W)."""
    from ..data.augment import random_resized_crop
    from ..losses import nt_xent_loss_batched

    S, b = xb.shape[:2]
    views = torch.cat([torch.stack([random_resized_crop(xb[k], gens[k], scale=(crop_scale, 1.0))
                                    for k in range(S)]) for _ in range(2)], dim=1)
    z = image_tower(views.reshape(S, views.shape[1], -1))  # both views in one pass
    return nt_xent_loss_batched(z[:, :b], z[:, b:], temperature)
