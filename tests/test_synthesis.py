"""The synthesis lenses (parity with independent formulas, the regimes the notebook reports) and the claims table."""

import numpy as np
import pytest

from mmcl_core.experiments import synthesis
from mmcl_core.report import METRICS_ENV
from mmcl_core.spectral import principal_angles


def test_balanced_views_agree_and_large_temperature_clip_is_the_linear_loss():
    res = synthesis.spectral_lens(seed=1)
    assert res["marginal_ratio"] == pytest.approx(1.0)
    assert res["sin_zhang_linear"] <= 0.25
    assert max(res["sin_clip_linear"].values()) <= 0.25
    assert res["sin_clip_linear"][5.0] <= 0.02
    assert all(err == 0 for err in res["probe_error"].values())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_imbalance_splits_zhang_from_the_linear_loss_and_temperature_interpolates(seed):
    res = synthesis.spectral_lens(class_weights=(7, 7 ** 0.5, 1), seed=seed)
    assert res["marginal_ratio"] == pytest.approx(7.0)
    assert res["sin_zhang_linear"] >= 0.4
    to_linear = [res["sin_clip_linear"][t] for t in res["temperatures"]]
    assert np.all(np.diff(to_linear) < 0) and to_linear[-1] <= 0.05
    assert res["sin_clip_zhang"][0.05] <= res["sin_clip_zhang"][5.0] - 0.2


def test_zhang_embedding_matches_an_independent_formula():
    """With every pair sampled in proportion, the lens's Zhang subspace is that of D^-1/2 U of the exact joint."""
    from mmcl_core.experiments.zhang2023 import class_noise_model

    P = class_noise_model(3, 0.3, 4, 2)["P"]
    A = P / np.sqrt(np.outer(P.sum(1), P.sum(0)))
    U = np.linalg.svd(A)[0]
    exact = U[:, 1:3] / np.sqrt(P.sum(1))[:, None]
    # Within-class instances are exchangeable, so the class-indicator subspace (orthogonal to constants) is the answer.
    labels = np.repeat(np.arange(3), 4)
    indicators = np.eye(3)[labels]
    centred = indicators - indicators.mean(0)
    assert np.sin(principal_angles(exact, centred[:, :2])).max() < 1e-10
    res = synthesis.spectral_lens(n_pairs=20000, temperatures=())  # no CLIP fit: 20000^2 logits
    assert res["sin_zhang_linear"] < 0.05  # sampling noise only, at 20000 pairs


def test_snr_lens_overlap_limits_and_the_text_signal_advantage():
    res = synthesis.snr_lens((0.05, 1.0, 100.0), c_mu=3.0, seeds=(0, 1, 2))
    assert res["single"].shape == res["multi"].shape == (3, 3)
    assert np.all((res["single"] >= 0) & (res["single"] <= 1 + 1e-12))
    assert res["single"].mean(1)[0] < 0.05 and res["single"].mean(1)[-1] > 0.95  # noise only / signal dominates
    assert res["multi"].mean(1)[1] > res["single"].mean(1)[1] + 0.1  # n SNR^2 = 1: C_mu = 3 already helps
    same = synthesis.snr_lens((1.0,), c_mu=1.0, seeds=(0, 1, 2))
    assert abs(same["multi"].mean() - same["single"].mean()) < 0.1


def test_snr_lens_is_deterministic_per_seed():
    a, b = synthesis.snr_lens((2.0,), seeds=(4,)), synthesis.snr_lens((2.0,), seeds=(4,))
    assert np.array_equal(a["multi"], b["multi"]) and np.array_equal(a["single"], b["single"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(class_weights=(1, 2)), "class_weights"), (dict(class_weights=(1, -1, 1)), "class_weights"),
    (dict(eps=1.5), "eps"), (dict(temperatures=(0.0,)), "temperatures"), (dict(n_pairs=12), "unsampled"),
])
def test_spectral_lens_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthesis.spectral_lens(**kwargs)


@pytest.mark.parametrize("kwargs, match", [(dict(d=4), "d must be"), (dict(c_mu=0), "c_mu"),
                                           (dict(n_snr2_values=(1.0, -1.0)), "n_snr2_values"), (dict(seeds=()),
                                                                                                "seeds")])
def test_snr_lens_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthesis.snr_lens(**kwargs)


def test_lens_panel_is_fast_enough_for_a_widget():
    import time

    synthesis.lens_panel()
    start = time.perf_counter()
    res = synthesis.lens_panel(imbalance=10.0, temperature=0.1)
    assert time.perf_counter() - start < 1.0
    assert res["temperatures"] == (0.1,) and res["marginal_ratio"] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="imbalance"):
        synthesis.lens_panel(imbalance=0.5)


def test_claims_table_one_row_per_claim_with_links_and_missing_notebooks_marked():
    rows = synthesis.claims_table({})
    assert len(rows) == len(synthesis.CLAIMS) >= 20
    assert {r["paper"] for r in rows} == {"Zhang et al. 2023", "Nakada et al. 2023", "Huang et al. 2024",
                                          "Xue et al. 2024"}
    assert all(r["value"] is None and r["holds"] is None for r in rows)
    assert all(r["link"] == f"{r['notebook']}.ipynb#{r['cell']}" for r in rows)
    text = synthesis.claims_markdown(rows)
    assert text.count("\n") == len(rows) + 1 and "not run" in text
    assert "[04 · cell-04](04_nakada_svd.ipynb#cell-04)" in text


def test_claim_links_point_at_cells_that_check_their_metrics():
    import re
    from pathlib import Path

    import nbformat

    root = Path(__file__).resolve().parent.parent / "notebooks"
    for c in synthesis.CLAIMS:
        nb = nbformat.read(str(root / f"{c.notebook}.ipynb"), as_version=4)
        cell = next((x for x in nb.cells if x.id == c.cell), None)
        assert cell is not None and cell.cell_type == "code", (c.notebook, c.cell)
        names = re.findall(r'report\.check\((f?)"([^"]+)"', cell.source)
        patterns = [re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(n)) if f else re.escape(n) for f, n in names]
        for metric in c.metrics:  # each metric is checked (with its criterion) in the linked cell
            looped = "report.check(key" in cell.source and f'"{metric}"' in cell.source  # a loop over (name, ...)
            assert looped or any(re.fullmatch(p, metric) for p in patterns), (c.notebook, c.cell, metric, names)


def _checked(**checks) -> dict:
    """Metrics as report.check records them: name -> (value, bounds, expect)."""
    out = {}
    for name, (value, bounds, expect) in checks.items():
        out[name] = value
        out.update({f"{name}.{k}": v for k, v in bounds.items()})
        out[f"{name}.expect"], out[f"{name}.asserted"] = expect, True
    return out


def test_claims_table_reads_values_criteria_and_verdicts_from_the_checks():
    nakada = _checked(gradient_rel_error=(1e-15, {"at_most": 1e-6}, True),
                      rate_slope=(-0.3, {"at_least": -0.6, "at_most": -0.4}, True),
                      iterated_svd_vs_factor_gd=(1e-9, {"at_most": 1e-6}, True))
    xue = _checked(adversarial_gap_label_only_minus_supervised=(-0.09, {"at_least": 0.15}, False))
    metrics = {"04_nakada_svd": {**nakada, "full_step_last_norm": 7.4}, "09_xue_real_data": xue}
    rows = {r["claim"]: r for r in synthesis.claims_table(metrics)}
    grad = next(r for k, r in rows.items() if "gradient in M" in k)
    rate = next(r for k, r in rows.items() if "n^{-1/2}" in k)
    proxy = next(r for k, r in rows.items() if "label-only CLIP" in k)
    iterated = next(r for k, r in rows.items() if "iterated SVD" in k)
    assert grad["value"] == 1e-15 and grad["holds"] is True and grad["criterion"] == "<= 1e-06"
    assert rate["holds"] is False and rate["expected"] is True and rate["criterion"] == "in [-0.6, -0.4]"
    assert proxy["holds"] is False and proxy["expected"] is False  # the proxy result, as the notebook found it
    assert "last step norm 7.4 at tau" in iterated["boundary"]  # measured numbers come from the metrics
    assert "…" in next(r for k, r in rows.items() if "masking" in k)["boundary"]  # not run: no number
    text = synthesis.claims_markdown(list(rows.values()))
    assert "(the notebook found otherwise)" in text and text.count("(the notebook found otherwise)") == 1
    with pytest.raises(ValueError, match="report.check"):  # a claim's number recorded without its criterion
        synthesis.claims_table({"04_nakada_svd": {"gradient_rel_error": 1e-15}})
    with pytest.raises(ValueError, match="metrics"):
        synthesis.Claim("p", "c", "a", "b", "nb", "cell", ())


def test_find_metrics_dir_order(tmp_path, monkeypatch):
    run = tmp_path / "run" / "metrics"
    run.mkdir(parents=True)
    (run / "04_nakada_svd.jsonl").write_text('{"name": "gradient_rel_error", "value": 1e-16}\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(METRICS_ENV, raising=False)
    assert synthesis.find_metrics_dir() is None
    monkeypatch.setenv(METRICS_ENV, str(run / "10_synthesis.jsonl"))
    assert synthesis.find_metrics_dir() == run
    assert synthesis.load_metrics(run) == {"04_nakada_svd": {"gradient_rel_error": 1e-16}}
    assert synthesis.find_metrics_dir(str(run)) == run
    with pytest.raises(ValueError, match="metrics_dir"):
        synthesis.find_metrics_dir(str(tmp_path / "nope"))
