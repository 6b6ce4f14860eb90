"""One lens across the four papers, and the table of their claims with the numbers the paper notebooks measured.

* :func:`spectral_lens`: on one shared toy dataset (Zhang's class-noise co-occurrence, sampled as one-hot pairs) the
  three cross-covariance-like matrices behind the papers, side by side: Zhang's normalised co-occurrence
  ``D_V^{-1/2} P D_L^{-1/2}``, the centred cross-covariance of the linear loss (Nakada's linear MMCL, the loss behind
  Xue's model) and Nakada's contrastive cross-covariance ``S(beta)`` at a given temperature. Each is read through its
  truncated SVD (the image embedding subspace); the result says where the views coincide and where they part.
* :func:`snr_lens`: Huang's signal-to-noise view through the same SVD: Gaussian class signals plus noise in ``d``
  dimensions; the top singular subspace of the single-modal matrix ``X^T X_aug / n`` and of the cross-modal
  ``X^T Z / n`` against the control parameter ``n SNR^2``.
* :data:`CLAIMS` and :func:`claims_table`: one row per claim the paper notebooks check, with its assumptions, where
  it stops holding (the regime boundaries the notebooks found) and the notebook cell that shows it; the measured
  number comes from the metrics those notebooks recorded (``mmcl reproduce``'s ``metrics/`` folder).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._checks import check_int, check_real
from ..graphs import weighted_probe_error
from ..report import read_metrics_file
from ..spectral import cross_covariance, normalized_cooccurrence, principal_angles
from .zhang2023 import class_noise_model

__all__ = ["spectral_lens", "lens_panel", "snr_lens", "Claim", "CLAIMS", "find_metrics_dir", "load_metrics",
           "claims_table", "claims_markdown"]


def _max_sin(U, V) -> float:
    """Largest principal-angle sine between two column spaces (0: same subspace, 1: an orthogonal direction)."""
    return float(np.sin(principal_angles(U, V)).max())


def spectral_lens(*, n_classes: int = 3, n_instances: int = 4, eps: float = 0.3, class_weights=None, n_pairs: int = 500,
                  temperatures=(0.05, 0.2, 1.0, 5.0), rho: float = 0.1, steps: int = 40, seed: int = 0) -> dict:
    """Zhang's, the linear loss's and CLIP's (Nakada's S(beta)) embeddings of the same sampled pairs, via SVDs.

    Data: Zhang's class-noise model (K = ``n_classes`` classes, ``n_instances`` images and 2 caption templates per
    class, caption class wrong with probability ``eps``); ``class_weights`` reweights the image classes (None:
    balanced). ``n_pairs``
    pairs are drawn and one-hot encoded, so every matrix is (images x texts) and its top ``n_classes - 1`` left singular
    vectors embed the images:

    * Zhang: the normalised co-occurrence ``D_V^{-1/2} P D_L^{-1/2}`` of the sampled pairs (its trivial top pair
      skipped; the embedding is ``D_V^{-1/2} U``);
    * linear loss: the centred cross-covariance (Nakada's linear MMCL, the loss behind Xue's model);
    * CLIP: the rank-(n_classes-1) fixed point ``M = SVD(S(beta(M)))/rho`` of Nakada's iterated SVD at each temperature
      (``projected_gd_clip`` with ``eta = 1``, ``steps`` steps); its left singular vectors. Each step forms the
      n_pairs x n_pairs logits, so keep ``n_pairs`` in the hundreds (``temperatures=()`` skips CLIP).

    Reproduces: Zhang et al. 2023 (normalised co-occurrence), Nakada et al. 2023 (CLIP's iterated SVD tends to the
    linear loss as the temperature grows), Xue et al. 2024 (linear loss): the synthesis notebook's common SVD view.

    Returns:
        dict with ``sin_zhang_linear`` (largest principal-angle sine between the two subspaces; 0 = same),
        ``sin_clip_linear`` and ``sin_clip_zhang`` (temperature -> the same for CLIP's fixed point),
        ``clip_last_step`` (temperature -> last iterated-SVD step norm, small = converged), ``probe_error``
        (embedding name -> weighted linear-probe error of the image class), ``temperatures``, ``marginal_ratio``
        (largest over smallest image-class mass).
    """
    from .nakada2023 import projected_gd_clip

    n_classes, n_instances = check_int("n_classes", n_classes, low=2), check_int("n_instances", n_instances, low=1)
    n_pairs = check_int("n_pairs", n_pairs, low=10)
    eps = check_real("eps", eps, low=0.0, high=1.0)
    rho = check_real("rho", rho, low=0.0, low_open=True)
    steps = check_int("steps", steps, low=1)
    temperatures = tuple(check_real("temperatures", t, low=0.0, low_open=True) for t in temperatures)
    model = class_noise_model(n_classes, eps, n_instances, 2)
    labels = model["image_labels"]
    P = _reweighted(model["P"], labels, class_weights, n_classes)
    X, Y = _sampled_pairs(P, n_pairs, np.random.default_rng(seed))
    P_hat = X.T @ Y / n_pairs
    U_z = np.linalg.svd(normalized_cooccurrence(P_hat))[0]
    embeddings = {"zhang": (U_z / np.sqrt(P_hat.sum(1))[:, None])[:, 1:n_classes],
                  "linear": np.linalg.svd(cross_covariance(X, Y))[0][:, :n_classes - 1]}
    sin_linear, sin_zhang, last_step = {}, {}, {}
    for t in temperatures:
        fit = projected_gd_clip(X, Y, n_classes - 1, rho=rho, temperature=t, eta=1.0, steps=steps)
        U = np.linalg.svd(fit["M"])[0][:, :n_classes - 1]
        embeddings[f"clip_tau{t:g}"] = U
        sin_linear[t], sin_zhang[t] = _max_sin(embeddings["linear"], U), _max_sin(embeddings["zhang"], U)
        last_step[t] = float(fit["step_norms"][-1])
    weights = P.sum(1)
    class_mass = np.bincount(labels, weights=weights)
    return {"sin_zhang_linear": _max_sin(embeddings["zhang"], embeddings["linear"]), "sin_clip_linear": sin_linear,
            "sin_clip_zhang": sin_zhang, "clip_last_step": last_step,
            "probe_error": {k: weighted_probe_error(F, labels, weights) for k, F in embeddings.items()},
            "temperatures": temperatures, "marginal_ratio": float(class_mass.max() / class_mass.min())}


def _reweighted(P, labels, class_weights, n_classes: int):
    """The joint ``P`` with image class k's rows scaled by ``class_weights[k]`` (None: unchanged), renormalised."""
    if class_weights is None:
        return P
    w = np.asarray(class_weights, dtype=float)
    if w.shape != (n_classes,) or np.any(w <= 0) or not np.all(np.isfinite(w)):
        raise ValueError(f"class_weights must be {n_classes} positive numbers, got {class_weights!r}")
    P = P * w[labels][:, None]
    return P / P.sum()


def _sampled_pairs(P, n_pairs: int, rng) -> tuple:
    """``n_pairs`` (image, text) pairs drawn from the joint ``P``, one-hot encoded as (n_pairs, images/texts)."""
    i, j = np.unravel_index(rng.choice(P.size, size=n_pairs, p=P.ravel()), P.shape)
    X, Y = np.eye(P.shape[0])[i], np.eye(P.shape[1])[j]
    if np.any(X.sum(0) == 0) or np.any(Y.sum(0) == 0):
        raise ValueError(f"n_pairs={n_pairs} leaves an image or text unsampled; draw more pairs")
    return X, Y


def lens_panel(eps: float = 0.3, imbalance: float = 7.0, temperature: float = 0.2, seed: int = 0) -> dict:
    """Widget function: :func:`spectral_lens` at one temperature, classes weighted ``imbalance : sqrt : 1``.

    Returns the :func:`spectral_lens` dict (300 pairs, so one update takes a fraction of a second).
    """
    imbalance = check_real("imbalance", imbalance, low=1.0)
    weights = (imbalance, np.sqrt(imbalance), 1.0)
    return spectral_lens(eps=eps, class_weights=weights, n_pairs=300, temperatures=(temperature,), seed=seed)


def snr_lens(n_snr2_values=(0.3, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0), *, n_classes: int = 3, c_mu: float = 3.0,
             d: int = 400, n: int = 100, noise_std: float = 1.0, aug_std: float = 0.1, seeds=(0, 1, 2)) -> dict:
    """How much of the image signal the top-K singular subspace captures, single- against multi-modal, by n SNR^2.

    Images ``x = mu e_y + xi`` (``y`` one of K = ``n_classes``, ``e_y`` orthonormal, ``xi ~ N(0, noise_std^2 I_d)``),
    ``mu = ||mu||`` set by ``n SNR^2 = n mu^2 / (noise_std^2 d)``. Single-modal: the matrix ``X^T X_aug / n`` with
    an augmented view ``X_aug = X + N(0, aug_std^2)``. Multi-modal: ``X^T Z / n`` with texts
    ``z = c_mu mu f_y + zeta`` (independent noise, signal ``c_mu`` times stronger, as Huang's ``C_mu``).

    Reproduces: Huang et al. 2024, the signal-to-noise view (n SNR^2 and C_mu control signal learning), in the linear
    SVD lens of Nakada et al. 2023 - the synthesis notebook's second panel.

    Returns:
        dict with ``n_snr2`` (G,), ``single`` and ``multi`` (G, S) overlaps ``||E^T U||_F^2 / K`` in [0, 1] (1: the
        embedding is the signal subspace), ``c_mu``, ``seeds``.
    """
    n_classes, d, n = check_int("n_classes", n_classes, low=1), check_int("d", d, low=2), check_int("n", n, low=2)
    if 2 * n_classes > d:
        raise ValueError(f"d must be at least 2 n_classes = {2 * n_classes}, got {d}")
    c_mu = check_real("c_mu", c_mu, low=0.0, low_open=True)
    noise_std = check_real("noise_std", noise_std, low=0.0, low_open=True)
    aug_std = check_real("aug_std", aug_std, low=0.0)
    values = np.array([check_real("n_snr2_values", v, low=0.0, low_open=True) for v in n_snr2_values])
    seeds = [check_int("seeds", s, low=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty")
    E, F = np.eye(d)[:n_classes], np.eye(d)[n_classes:2 * n_classes]
    out = {mode: np.zeros((len(values), len(seeds))) for mode in ("single", "multi")}
    for a, v in enumerate(values):
        mu = np.sqrt(v * noise_std ** 2 * d / n)
        for b, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            y = rng.integers(0, n_classes, n)
            X = mu * E[y] + noise_std * rng.standard_normal((n, d))
            views = {"single": X + aug_std * rng.standard_normal((n, d)),
                     "multi": c_mu * mu * F[y] + noise_std * rng.standard_normal((n, d))}
            for mode, Z in views.items():
                U = np.linalg.svd(X.T @ Z / n, full_matrices=False)[0][:, :n_classes]
                out[mode][a, b] = float(np.sum((E @ U) ** 2) / n_classes)
    return {"n_snr2": values, **out, "c_mu": c_mu, "seeds": seeds}


# --- the claims table -------------------------------------------------------------------------------------------

class Claim:
    """One checked claim: where it is shown and which checked metrics carry it.

    The number, the criterion and the outcome the notebook asserted are read from what the notebook recorded with
    :func:`mmcl_core.report.check`, so the table never holds a second copy of a threshold.

    Args:
        paper: short citation.
        claim: the claim, one line.
        assumptions: what it assumes, one line.
        boundary: where it stops holding, one line; ``{metric:format}`` fields are filled from the notebook's recorded
            metrics (so measured numbers are never typed in), ``…`` where the notebook has not run.
        notebook: notebook stem; ``cell``: the id of the cell that checks it.
        metrics: the names its notebook checked with ``report.check`` (all must hold for the claim to hold).
    """

    def __init__(self, paper: str, claim: str, assumptions: str, boundary: str, notebook: str, cell: str,
                 metrics: tuple):
        if not metrics:
            raise ValueError("metrics must name at least one checked metric")
        self.paper, self.claim, self.assumptions, self.boundary = paper, claim, assumptions, boundary
        self.notebook, self.cell, self.metrics = notebook, cell, tuple(metrics)

    def link(self) -> str:
        """Relative link to the cell (``NN_name.ipynb#cell-id``)."""
        return f"{self.notebook}.ipynb#{self.cell}"

    def boundary_text(self, recorded: dict) -> str:
        """The boundary with its ``{metric:format}`` fields filled from ``recorded`` (``…`` where missing)."""
        import string

        out = []
        for literal, field, spec, _ in string.Formatter().parse(self.boundary):
            out.append(literal)
            if field is not None:
                out.append(format(recorded[field], spec) if field in recorded else "…")
        return "".join(out)


_Z, _N, _H, _X = ("Zhang et al. 2023", "Nakada et al. 2023", "Huang et al. 2024", "Xue et al. 2024")

CLAIMS: tuple = (
    Claim(_Z, "the MMCL spectral loss is ||A - F_V F_L^T||^2 - ||A||^2 (A: normalised co-occurrence)",
          "a joint P with positive marginals", "none: an identity (gap at machine precision)",
          "02_zhang_theory", "cell-05", ("identity_gap",)),
    Claim(_Z, "gradient descent reaches the truncated-SVD optimum of A",
          "full-batch GD on tables, r below the rank of A",
          "minibatch SGD stops at a {sgd_rel_gap:.1e} relative gap (its noise floor)",
          "02_zhang_theory", "cell-07", ("gd_rel_gap",)),
    Claim(_Z, "MMCL equals single-modal CL on the text-induced image graph",
          "the image graph W = P D_L^{-1} P^T", "none found (eigen-gap and subspace at machine precision)",
          "02_zhang_theory", "cell-11", ("equivalence_sin_theta",)),
    Claim(_Z, "probe error <= 2 phi / lambda_{r+1}", "labels constant on the graph's clusters up to phi",
          "informative (< 1) on only {bound_informative_instances} of the random instances; captions naming the "
          "nuisance close the gap (lambda_{{r+1}} = {mmcl_style_captions_lambda_r1:.3f})",
          "02_zhang_theory", "cell-13", ("bound_valid_fraction",)),
    Claim(_Z, "style-confounded data: MMCL probe error 0 where SSCL's is 2/3",
          "captions name the class, not the style (q_style = 0)",
          "q_style = 1 (captions name the style): lambda_{{r+1}} falls to {mmcl_style_captions_lambda_r1:.3f}",
          "02_zhang_theory", "cell-18", ("mmcl_probe_error", "sscl_probe_error")),
    Claim(_Z, "CLIP-guided AddNewPositive raises SimCLR's linear probe (points)",
          "a teacher whose own probe is better than SimCLR's", "DropFalsePositive as released is plain SimCLR "
          "(gain 0); the gain is bounded by the teacher's head-room", "03_zhang_resampling", "cell-06",
          ("add_new_positive_gain", "add_new_positive_paired_t")),
    Claim(_N, "the CLIP gradient in M is -S(beta)", "linear encoders, M = G1^T G2",
          "none: an identity", "04_nakada_svd", "cell-04", ("gradient_rel_error",)),
    Claim(_N, "iterated SVD of S(beta) reaches the stationary point of factor GD", "small step eta rho",
          "the full step eta = 1/rho oscillates (last step norm {full_step_last_norm:.2g} at tau 0.5)",
          "04_nakada_svd", "cell-06", ("iterated_svd_vs_factor_gd",)),
    Claim(_N, "the sin-Theta recovery error falls like n^{-1/2}", "spiked model, incoherent (Haar) loadings",
          "checked for n = 2000 to 32000 with Haar loadings; Wedin's bound gives the rate, not the constant",
          "04_nakada_svd", "cell-08", ("rate_slope",)),
    Claim(_N, "a fraction eps of wrong pairs multiplies the error by 1/(1 - eps) (largest relative miss)",
          "wrong pairs independent", "checked up to eps = 0.6 (ratio {wrong_pair_ratio_eps0.6:.2f}, theory 2.5)",
          "04_nakada_svd", "cell-08", ("wrong_pair_ratio_max_rel_error",)),
    Claim(_N, "MMCL beats masking-based unimodal CL (smallest margin over n)", "coherent 2-sparse loadings, eps = 0",
          "incoherent (Haar) loadings: masking-CL within {incoherent_masking_over_mmcl:.1%} of MMCL, better once "
          "pairs are wrong", "04_nakada_svd", "cell-10", ("coherent_masking_minus_mmcl_min",)),
    Claim(_N, "unpaired data with pseudo pairs improve retrieval (E1, every N beyond the smallest)",
          "pseudo pairs from the model's own logits (global top-b)", "no gain at the smallest pool (N = 500: "
          "{e1_N500_unpaired:.3f} against {e1_N500_paired:.3f})", "05_nakada_unpaired", "cell-04",
          ("e1_gain_min_beyond_smallest_n",)),
    Claim(_N, "unpaired data help when pseudo pairs bring new same-class pairs (MNIST <-> digits, E3)",
          "pseudo pairs of controlled precision: random partners, all of the right class",
          "at chance precision (0.1) the gain is {gain_at_chance:+.3f}; the crossover is near {crossover_p:.2f}",
          "05_nakada_unpaired", "cell-real-01", ("gain_at_1", "gain_at_chance")),
    Claim(_N, "the model's own pseudo pairs (a clean rule) give the paper's gain on real data (E3)",
          "clean indexing, unpaired pools without hidden alignment", "does not hold: they are the pairs the model "
          "already ranks first; only the released transposed index gains", "05_nakada_unpaired", "cell-08",
          ("e3_best_clean_gain",)),
    Claim(_N, "spectral co-clustering repairs a noisy class graph (E2, smallest gain over seeds and flip rates "
          "0.05-0.3)", "edge-flip probability at most 0.3",
          "fails above the spectral detection threshold p*_flip ({e2_detection_threshold:.2f} at 50 images per "
          "class); at 0.5 both are at chance",
          "05_nakada_unpaired", "cell-real-05", ("e2_coclustering_gain_min",)),
    Claim(_N, "the recovery error grows like sqrt(d) at fixed n (Theorem 1)", "isotropic noise, n = 8000, r = 5",
          "none found for d in 25-400", "05_nakada_unpaired", "cell-real-07", ("sqrt_d_slope",)),
    Claim(_H, "multi-modal pre-training generalises OOD where single-modal does not (Figure 1)",
          "two-patch data, n SNR^2 = 1.25, C_mu = 3", "high n SNR^2: both learn the signal (phase diagram)",
          "06_huang_synthetic", "cell-04", ("multi_ood_accuracy", "single_ood_accuracy", "multi_minus_single_ood")),
    Claim(_H, "stage-1 signal growth rate of the multi-modal model matches the theory (measured / theory)",
          "small initialisation, early iterations", "the single-modal ratio is off by more "
          "({stage1_single_ratio:.2f} against {stage1_single_ratio_theory:.2f})",
          "06_huang_synthetic", "cell-06", ("stage1_multi_rate_over_theory",)),
    Claim(_H, "multi-modal learns the signal at a lower n SNR^2 (crossing factor, C_mu = 3)",
          "C_mu > 1: the text signal stronger", "C_mu = 1: no advantage (multi minus single <= 0.1 "
          "everywhere); the proof windows are sufficient, not sharp", "06_huang_synthetic", "cell-10",
          ("crossing_factor_c_mu3",)),
    Claim(_H, "ColoredMNIST: the paper's caption (digit + colour) beats SimCLR out of distribution",
          "colour agrees with the label 77.5 % in training, reversed at test; probe on the projection, fitted on the "
          "training set", "28 x 28 images at 20 epochs, or a weakly regularised / standardised / hidden-layer probe: "
          "the gain shrinks or vanishes", "07_huang_colored_digits", "cell-07",
          ("ood_gain_paper_caption", "ood_gain_t_paper_caption")),
    Claim(_X, "closed forms P1-P3 match simulation (largest gap)", "linear loss, full rank, Gaussian features",
          "none found on the sigma_core grid", "08_xue_theory", "cell-04", ("closed_vs_simulation_max_abs",)),
    Claim(_X, "MMCL stays accurate on the flipped test set where supervised learning fails (sigma_core = 2; worst "
          "of closed form and simulation)", "rich captions, small sigma_spu",
          "sigma_core = 0.5: supervised learning wins (cell-08)", "08_xue_theory", "cell-06",
          ("mmcl_ood_flipped_worst", "supervised_ood_flipped_worst")),
    Claim(_X, "richer captions (describing the core feature) raise flipped-test accuracy",
          "captions describe the core feature with probability q_core", "annotating the cue or details is invisible "
          "to the full-rank linear loss", "08_xue_theory", "cell-10", ("richness_gain",)),
    Claim(_X, "label-only MMCL (linear loss) beats supervised learning under an adversarial colour (real digits)",
          "linear contrastive loss, a low-variance colour cue (noise 0.05), a noisy core (pixel noise 0.5)",
          "InfoNCE with label-only captions (every InfoNCE row of the ingredient table); a high-variance cue shrinks "
          "it", "09_xue_real_data", "cell-calib-01", ("calibrated_gap_digits", "calibrated_t_digits")),
    Claim(_X, "label-only CLIP-style towers (InfoNCE, MiniLM captions) beat supervised learning under the "
          "adversarial colour (digits proxy)", "the theorem's regime: the linear loss and a loose core",
          "does not hold here: InfoNCE with label-only captions leans on the clean colour like cross-entropy, and "
          "the lightly noised shape is a tight core", "09_xue_real_data", "cell-06",
          ("adversarial_gap_label_only_minus_supervised",)),
    Claim(_X, "captions that name the spurious colour cost robustness (digits proxy)",
          "prompts are the class's mean caption", "style shifts (blur, rotation) affect every method alike",
          "09_xue_real_data", "cell-06", ("color_cost_of_naming_the_cue",)),
    Claim(_X, "label-only MMCL is robust beyond its in-distribution accuracy (effective robustness, logit axes)",
          "a family of logistic regressions defines the line; real 8x8 digits with a lying colour",
          "MNIST-5k: {logit_er_mmcl_mnist:+.3f} (the family's line falls with accuracy)", "09_xue_real_data",
          "cell-calib-04", ("logit_er_mmcl_digits", "logit_er_mmcl_digits_ci_low")),
)


def find_metrics_dir(metrics_dir: str = "") -> Path | None:
    """Where the paper notebooks' recorded metrics are: ``metrics_dir`` when given (it must exist); else the folder
    of this run (``mmcl reproduce`` sets ``MMCL_METRICS_PATH``); else ``runs/latest/metrics`` under the current or
    the parent folder; None when there is none."""
    import os

    from ..report import METRICS_ENV

    if metrics_dir:
        path = Path(metrics_dir)
        if not path.is_dir():
            raise ValueError(f"metrics_dir {metrics_dir!r} is not a folder")
        return path
    candidates = [Path(os.environ[METRICS_ENV]).parent] if os.environ.get(METRICS_ENV) else []
    candidates += [Path("runs/latest/metrics"), Path("../runs/latest/metrics")]
    return next((c for c in candidates if c.is_dir() and any(c.glob("*.jsonl"))), None)


def load_metrics(metrics_dir) -> dict:
    """notebook stem -> recorded metrics, from the ``metrics/*.jsonl`` files of a ``mmcl reproduce`` run (or the
    ``summary.json`` next to them)."""
    metrics_dir = Path(metrics_dir)
    out = {p.stem: read_metrics_file(p) for p in sorted(metrics_dir.glob("*.jsonl"))}
    summary = metrics_dir.parent / "summary.json"
    if not out and summary.exists():
        out = {k: v.get("metrics", {}) for k, v in json.loads(summary.read_text())["notebooks"].items()}
    return out


def claims_table(metrics: dict, claims=CLAIMS) -> list[dict]:
    """One row per claim: paper, claim, assumptions, boundary (its fields filled), link, and what the notebook's
    checks recorded: ``values`` and ``criteria`` (one per metric; ``value`` is the first), ``holds``, ``expected``
    (the outcome the notebook asserts) and ``asserted`` (False: run away from the reference setting). ``value``,
    ``holds``, ``expected`` and ``asserted`` are None while the notebook has not run.

    Args:
        metrics: notebook stem -> recorded metrics (see :func:`load_metrics`).
        claims: the claims (default :data:`CLAIMS`).

    Raises:
        ValueError: a claim's metric was recorded without a criterion (``report.record`` instead of ``report.check``).
    """
    from ..report import read_check

    rows = []
    for c in claims:
        recorded = metrics.get(c.notebook, {})
        checks = [read_check(recorded, name) for name in c.metrics]
        measured = all(ch is not None for ch in checks)
        row = {"paper": c.paper, "claim": c.claim, "assumptions": c.assumptions,
               "boundary": c.boundary_text(recorded), "notebook": c.notebook, "cell": c.cell, "link": c.link(),
               "metrics": c.metrics, "values": [ch["value"] if ch else None for ch in checks],
               "criteria": [ch["criterion"] if ch else None for ch in checks]}
        row["value"] = row["values"][0]
        row["criterion"] = " · ".join(ch or "—" for ch in row["criteria"])
        row["holds"] = all(ch["holds"] for ch in checks) if measured else None
        row["expected"] = all(ch["expect"] for ch in checks) if measured else None
        row["asserted"] = all(ch["asserted"] for ch in checks) if measured else None
        rows.append(row)
    return rows


def claims_markdown(rows: list) -> str:
    """The claims table as Markdown, each row linking to the notebook cell that checks it."""
    def fmt(v):
        return "not run" if v is None else (f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}")

    def verdict(row):
        if row["holds"] is None:
            return "—"
        found = "holds" if row["holds"] else "does not hold"
        if not row["asserted"]:
            return f"{found} (not asserted: run away from the reference setting)"
        return found if row["holds"] == row["expected"] else f"**{found} (the notebook found otherwise)**"

    lines = ["| paper | claim | assumes | stops holding | measured | criterion | verdict | shown in |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        measured = " · ".join(fmt(v) for v in r["values"])
        cells = [r["paper"], r["claim"], r["assumptions"], r["boundary"], measured, r["criterion"], verdict(r),
                 f"[{r['notebook'][:2]} · {r['cell']}]({r['link']})"]
        cells = [c.replace("|", "\\|") for c in cells[:-1]] + cells[-1:]
        lines.append("| " + " | ".join(c.replace("_", "\\_") if i < 6 else c for i, c in enumerate(cells)) + " |")
    return "\n".join(lines)
