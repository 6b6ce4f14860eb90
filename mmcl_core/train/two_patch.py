"""Huang et al. (NeurIPS 2024): full-batch gradient descent of the two-patch ReLU encoders, many models at once in the
exact signal-noise coordinates (gamma, omega) (:func:`train_batched`), and the d-dimensional autograd version that
checks
it (:func:`train_direct`). The data come from :func:`mmcl_core.data.two_patch.draw_grams`; the project's notes:
docs/papers/huang2024.md.
"""

from __future__ import annotations

import time

import numpy as np

from .._checks import check_choice, check_int, check_real
from ..data.two_patch import MODES
from ..probes import batched_logistic_probe as probe_accuracy

__all__ = ["NEGATIVES", "PROBES", "train_batched", "train_direct"]

NEGATIVES = ("opposite", "all")
PROBES = ("ood", "train")


def _stack(draws, side, key):
    import torch

    first = draws[0][side][key]
    if isinstance(first, tuple):
        return tuple(torch.stack([dr[side][key][j] for dr in draws]) for j in range(3))
    if isinstance(first, float):
        return torch.tensor([dr[side][key] for dr in draws], dtype=torch.float64)
    return torch.stack([dr[side][key] for dr in draws])


def _inner(query, gamma, omega):
    """<w_h, v> for every neuron and query: (B, m, k) from A0 (B, m, k), a (B, k), X (B, n, k)."""
    A0, a, X = query
    return A0 + gamma[:, :, None] * a[:, None, :] + omega @ X


def train_batched(draws: list, *, mode: str = "multi", lr: float = 0.01, epochs: int = 200,
                  temperature: float = 0.1, negatives: str = "opposite", track_every: int = 10,
                  probe: str = "ood", device: str = "auto", dtype: str = "float64") -> dict:
    """Full-batch GD of many models at once, in the exact signal-noise coordinates (gamma, omega).

    Args:
        draws: list of :func:`draw_grams` dicts with equal shapes (one per model; same ``mode``).
        negatives: ``"opposite"`` (the paper: negatives are the opposite-label samples) or ``"all"`` (all j != i).
        track_every: steps between OOD-probe evaluations (0: only at the end).
        probe: ``"ood"`` (logistic probe fitted on fresh OOD points, scored on others) or ``"train"`` (fitted on the
            pre-training images' embeddings).
        dtype: ``"float64"`` (theory checks, the default) or ``"float32"`` (about twice as fast; for sweeps).

    Returns:
        dict with per-step ``loss``, ``signal_max`` (max_h |gamma_h|), ``signal_mean``, ``noise_max`` (max omega),
        ``noise_mean`` (mean of the positive omega), ``log_signal``/``log_noise`` (log max_h |<w_h, mu>|, log max
        <w_h, xi_i>) — each (B, epochs + 1); ``probe_steps`` and ``ood_accuracy`` (B, K); ``sign_flips`` (B,) neurons
        whose sign(<w_h, mu>) at the end differs from the start, among those the sign-invariance lemmas cover (all
        neurons for single; for multi those with sign<w_h, mu> = sign<w~_h, mu~> at the start, Lemma D.3);
        ``inactive_memorised`` (B,) count of (r, i) with
        <w_h(0), xi_i> < 0 whose omega became non-zero; ``sign_agreement`` (B, epochs + 1) fraction of neurons with
        sign<w_h, mu> = sign<w~_h, mu~> (multi); ``seconds``.
    """
    import torch

    from ..device import get_device

    if not isinstance(draws, (list, tuple)) or not draws or not all(isinstance(dr, dict) for dr in draws):
        raise ValueError("draws must be a non-empty list of draw_grams dicts")
    check_choice("mode", mode, MODES)
    check_choice("negatives", negatives, NEGATIVES)
    check_choice("probe", probe, PROBES)
    epochs = check_int("epochs", epochs, low=1)
    tau = check_real("temperature", temperature, low=0.0, low_open=True)
    eta = check_real("lr", lr, low=0.0, low_open=True)
    if any(("text" in dr) != (mode == "multi") for dr in draws):
        raise ValueError(f"draws must all be drawn with mode={mode!r}")
    dt = {"float64": torch.float64, "float32": torch.float32}[check_choice("dtype", dtype, ("float64", "float32"))]
    start = time.perf_counter()
    gd = _SignalNoiseGD(draws, mode, negatives, probe, tau, get_device(device, dtype=dt), dt)
    hist = {k: torch.zeros(gd.B, epochs + 1, dtype=torch.float64) for k in
            ("loss", "signal_max", "signal_mean", "noise_max", "noise_mean", "log_signal", "log_noise",
             "sign_agreement")}
    probe_steps, ood = [], []
    for t in range(epochs + 1):
        loss, grads, (P, Q), Pt = gd.loss_and_factors()
        gd.record(hist, t, loss, P, Q, Pt)
        if (track_every and t % track_every == 0) or t == epochs:
            probe_steps.append(t)
            ood.append(gd.probe_accuracy(P, Q))
        if t == epochs:
            break
        gd.step(grads, eta)
    gamma, omega = gd.state["image"]
    P, _ = gd.acts("image")
    return {**{k: v.numpy() for k, v in hist.items()}, "probe_steps": np.array(probe_steps),
            "ood_accuracy": np.stack(ood, 1),
            "sign_flips": ((torch.sign(P) != gd.sign0) & gd.covered).sum(1).cpu().numpy(),
            "inactive_memorised": ((omega != 0) & gd.inactive0).sum((1, 2)).cpu().numpy(),
            "gamma": gamma.cpu().numpy(), "omega": omega.cpu().numpy(), "seconds": time.perf_counter() - start}


class _SignalNoiseGD:
    """The state of :func:`train_batched`: the drawn Gram matrices, the coordinates (gamma, omega) of each side, and
    the loss, gradient factors, probe and update of one full-batch step."""

    def __init__(self, draws, mode, negatives, probe, tau, dev, dt):
        import torch

        def to(t):
            return t.to(dev, dt) if isinstance(t, torch.Tensor) else tuple(x.to(dev, dt) for x in t)

        self.mode, self.probe, self.tau, self.dt = mode, probe, tau, dt
        self.sides = ("image", "text") if mode == "multi" else ("image",)
        G = {s: {k: to(_stack(draws, s, k)) for k in ("mu", "xi", "xi_sq", "mu_sq")} for s in self.sides}
        G["image"].update({k: to(_stack(draws, "image", k))
                           for k in ("nu", "zeta") + (("aug",) if mode == "single" else ())})
        self.G = G
        self.y = y = to(torch.stack([dr["y"] for dr in draws]))  # (B, n)
        self.y_test = to(torch.stack([dr["y_test"] for dr in draws]))
        self.B, n = y.shape
        self.m = m = G["image"]["mu"][0].shape[1]
        self.state = {s: [torch.zeros(self.B, m, device=dev, dtype=dt), torch.zeros(self.B, m, n, device=dev, dtype=dt)]
                      for s in self.sides}
        self.Y = torch.stack([y > 0, y < 0], 2).to(dt)  # (B, n, 2) one-hot of the label
        opposite = y[:, :, None] != y[:, None, :]
        eye = torch.eye(n, dtype=torch.bool, device=dev)
        neg_mask = opposite if negatives == "opposite" else ~eye.expand(self.B, n, n)
        self.allowed = (neg_mask | eye).to(dt)  # the positive and the negatives
        self.penalty = (1.0 - self.allowed) * 1e30  # pushes the other entries out of the row maximum
        # exp() of arguments below the log of the smallest normal float produces denormals, ~25x slower on CPUs: such
        # arguments are clamped, which changes a probability by < 2e-38 (float32) / 1e-304 (float64)
        self.exp_floor = -87.0 if dt == torch.float32 else -700.0
        self.diag_idx = torch.arange(n, device=dev)
        self.inactive0 = G["image"]["xi"][0] < 0  # (B, m, n)
        self.sign0 = self.covered = None

    def acts(self, side):
        gamma, omega = self.state[side]
        P = _inner(self.G[side]["mu"], gamma, omega)[:, :, 0]  # (B, m) <w_h, mu>
        Q = _inner(self.G[side]["xi"], gamma, omega)  # (B, m, n) <w_h, xi_i>
        return P, Q

    def weights_from(self, S_pos, S_mat):
        """Softmax weights over [positive, negatives]; returns loss (B,), C (B, n, n) with C_ii = c_i0."""
        d, n, tau = self.diag_idx, len(self.diag_idx), self.tau
        logits = S_mat / tau
        logits[:, d, d] = S_pos / tau
        top = (logits - self.penalty).amax(2, keepdim=True)
        z = (logits - top).clamp_(min=self.exp_floor).exp_().mul_(self.allowed)
        total = z.sum(2)
        lse = top[:, :, 0] + total.log()
        p = z.div_(total[:, :, None])
        p_pos = p[:, d, d]
        C = p.div_(n * tau)
        C[:, d, d] = -(1 - p_pos) / (n * tau)
        return (lse - S_pos / tau).mean(1), C

    def loss_and_factors(self):
        """Loss (B,), the gradient factors of each side, the image activations (P, Q) and the text P (multi)."""
        import torch

        relu, Y, m = torch.relu, self.Y, self.m
        P, Q = self.acts("image")
        H2 = relu(Q.transpose(1, 2))  # (B, n, m) noise-patch activations
        if self.mode == "multi":
            Pt, Qt = self.acts("text")
            G2 = relu(Qt.transpose(1, 2))
            A, At = relu(torch.stack([P, -P], 1)), relu(torch.stack([Pt, -Pt], 1))  # (B, 2, m): y = +1, -1 rows
            # the signal patches have two distinct activation rows (y = +1, -1): H1 = Y A, G1 = Y At (never formed)
            S_hg = (Y @ (A @ At.transpose(1, 2)) @ Y.transpose(1, 2) + H2 @ G2.transpose(1, 2)) / m  # Sim(x_i, x~_j)
            loss_i, C_i = self.weights_from(torch.diagonal(S_hg, dim1=1, dim2=2), S_hg)
            loss_t, C_t = self.weights_from(torch.diagonal(S_hg, dim1=1, dim2=2), S_hg.transpose(1, 2))
            grads = {"image": ((C_i @ Y) @ At, C_i @ G2, self.y, P, Q),
                     "text": ((C_t @ Y) @ A, C_t @ H2, self.y, Pt, Qt)}
            return loss_i + loss_t, grads, (P, Q), Pt
        H2hat = relu(_inner(self.G["image"]["aug"], *self.state["image"]).transpose(1, 2))
        A = relu(torch.stack([P, -P], 1))
        S = (Y @ (A @ A.transpose(1, 2)) @ Y.transpose(1, 2) + H2 @ H2.transpose(1, 2)) / m
        S_pos = ((Y @ (A * A).sum(2, keepdim=True))[:, :, 0] + (H2 * H2hat).sum(2)) / m  # |H1_i|^2 via A
        loss, C = self.weights_from(S_pos, S)
        diag = torch.diagonal(C, dim1=1, dim2=2)
        C_off = C - torch.diag_embed(diag)
        return loss, {"image": ((C @ Y) @ A, C_off @ H2 + diag[:, :, None] * H2hat, self.y, P, Q)}, (P, Q), None

    def record(self, hist, t, loss, P, Q, Pt):
        import torch

        gamma, omega = self.state["image"]
        hist["loss"][:, t] = loss.cpu()
        hist["signal_max"][:, t] = gamma.abs().amax(1).cpu()
        hist["signal_mean"][:, t] = gamma.abs().mean(1).cpu()
        hist["noise_max"][:, t] = omega.amax((1, 2)).cpu()
        hist["noise_mean"][:, t] = omega.clamp(min=0).mean((1, 2)).cpu()
        hist["log_signal"][:, t] = P.abs().amax(1).log().cpu()
        hist["log_noise"][:, t] = Q.amax((1, 2)).clamp(min=1e-300).log().cpu()
        if self.mode == "multi":
            hist["sign_agreement"][:, t] = (torch.sign(P) == torch.sign(Pt)).to(self.dt).mean(1).cpu()
        if self.sign0 is None:  # neurons the invariance lemma covers: all (single), same initial sign in both (multi)
            self.sign0 = torch.sign(P)
            self.covered = (torch.ones_like(P, dtype=torch.bool) if self.mode == "single"
                            else torch.sign(P) == torch.sign(Pt))

    def probe_accuracy(self, P, Q):
        import torch

        relu, y, y_test, G = torch.relu, self.y, self.y_test, self.G
        feats_test = (relu(y_test[:, :, None] * _inner(G["image"]["nu"], *self.state["image"])[:, :, 0][:, None, :])
                      + relu(_inner(G["image"]["zeta"], *self.state["image"]).transpose(1, 2)))  # (B, 2 n_test, m)
        half = feats_test.shape[1] // 2
        if self.probe == "train":
            feats_fit = relu(y[:, :, None] * P[:, None, :]) + relu(Q.transpose(1, 2))
            return probe_accuracy(feats_fit, y, feats_test[:, :half], y_test[:, :half])
        return probe_accuracy(feats_test[:, :half], y_test[:, :half], feats_test[:, half:], y_test[:, half:])

    def step(self, grads, eta):
        dt, m = self.dt, self.m
        for side, (Ppart, Npart, ys, Pside, Qside) in grads.items():
            g_mu = ((Pside[:, None, :] * ys[:, :, None] > 0).to(dt) * ys[:, :, None] * Ppart).sum(1) / m  # (B, m)
            g_xi = (Qside > 0).to(dt) * Npart.transpose(1, 2) / m  # (B, m, n)
            self.state[side][0] = self.state[side][0] - eta * g_mu * self.G[side]["mu_sq"][:, None]
            self.state[side][1] = self.state[side][1] - eta * g_xi * self.G[side]["xi_sq"][:, None, :]


def train_direct(draw: dict, *, mode: str = "multi", lr: float = 0.01, epochs: int = 20, temperature: float = 0.1,
                 negatives: str = "opposite", dtype: str = "float64") -> dict:
    """The same GD in d dimensions with autograd and ``detach()`` as stop-gradient (one model; for checks, and the
    textbook one-model-at-a-time baseline of ``benchmarks/huang_phase_diagram.py``).

    Args:
        draw: :func:`draw_grams` with ``keep_vectors=True``.
        dtype: ``"float64"`` or ``"float32"``.

    Returns:
        dict with the loss per step (epochs + 1,), the final ``W`` (m, d) (and ``W_text``), the final
        ``gamma``/``omega`` read off by least squares in span{mu, xi_1..n}, and ``ood_accuracy`` (the ``"ood"`` probe
        of :func:`train_batched`).
    """
    import torch

    dt = {"float64": torch.float64, "float32": torch.float32}[check_choice("dtype", dtype, ("float64", "float32"))]
    draw = {k: ({a: (b.to(dt) if isinstance(b, torch.Tensor) else b) for a, b in v.items()} if isinstance(v, dict)
                else v.to(dt)) for k, v in draw.items()}
    img = draw["image"]
    y, n = draw["y"], len(draw["y"])
    mu, Xi = img["mu_vector"], img["Xi"]
    W = img["W0"].clone().requires_grad_(True)
    Wt = draw["text"]["W0"].clone().requires_grad_(True) if mode == "multi" else None
    mask = (y[:, None] != y[None, :]) if negatives == "opposite" else ~torch.eye(n, dtype=torch.bool)
    m = W.shape[0]

    def patches(Wm, signal, noise):
        return torch.relu(y[:, None] * (Wm @ signal)[None, :]), torch.relu(noise @ Wm.T)  # (n, m) each

    def nce(S_pos, S_mat):
        logits = torch.where(mask, S_mat, torch.full_like(S_mat, -torch.inf)) / temperature
        logits = logits.clone()
        logits[torch.arange(n), torch.arange(n)] = S_pos / temperature
        return -(logits.diagonal() - torch.logsumexp(logits, 1)).mean()

    losses = []
    params = [W] + ([Wt] if Wt is not None else [])
    for t in range(epochs + 1):
        H1, H2 = patches(W, mu, Xi)
        if mode == "multi":
            txt = draw["text"]
            G1, G2 = patches(Wt, txt["mu_vector"], txt["Xi"])
            S_hg = (H1 @ G1.detach().T + H2 @ G2.detach().T) / m
            S_gh = (G1 @ H1.detach().T + G2 @ H2.detach().T) / m
            loss = nce(S_hg.diagonal(), S_hg) + nce(S_gh.diagonal(), S_gh)
        else:
            H2hat = torch.relu(img["aug_vectors"] @ W.T)
            S = (H1 @ H1.detach().T + H2 @ H2.detach().T) / m
            loss = nce((H1 * H1.detach()).sum(1) / m + (H2 * H2hat.detach()).sum(1) / m, S)
        losses.append(float(loss.detach()))
        if t == epochs:
            break
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= lr * g
    return {"loss": np.array(losses), **_read_off(W.detach(), img, draw["y_test"]),
            **({"W_text": Wt.detach()} if Wt is not None else {})}


def _read_off(W, img: dict, y_test) -> dict:
    """``W``, its (gamma, omega) by least squares in span{mu, xi_1..n}, and the "ood" probe of :func:`train_direct`."""
    import torch

    mu, Xi = img["mu_vector"], img["Xi"]
    basis = torch.cat([(mu / (mu @ mu))[None], Xi / (Xi ** 2).sum(1, keepdim=True)])  # rows: mu/|mu|^2, xi_i/|xi_i|^2
    coef = torch.linalg.lstsq(basis.T, (W - img["W0"]).T).solution.T  # (m, 1 + n)
    feats = (torch.relu(y_test[:, None] * (W @ img["nu_vectors"][0])[None, :])
             + torch.relu(img["zeta_vectors"] @ W.T))[None]  # (1, 2 n_test, m)
    half = feats.shape[1] // 2
    ood = probe_accuracy(feats[:, :half], y_test[None, :half], feats[:, half:], y_test[None, half:])
    return {"W": W, "gamma": coef[:, 0].numpy(), "omega": coef[:, 1:].numpy(), "ood_accuracy": float(ood[0])}
