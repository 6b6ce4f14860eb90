"""CLIP-guided resampling losses (against hand-written references) and the Zhang real-data plumbing."""

import math

import numpy as np
import pytest
import torch

from mmcl_core.experiments import zhang2023 as zhang
from mmcl_core.experiments import zhang2023_resampling as zhang_resampling
from mmcl_core.losses import nt_xent_loss
from mmcl_core.losses import RESAMPLING_METHODS as METHODS
from mmcl_core.losses import resampled_nt_xent


def _batch(n=20, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    z1, z2 = torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)
    t = torch.randn(2 * n, 4, generator=g, dtype=torch.float64)
    t = torch.nn.functional.normalize(t, dim=1)
    return z1, z2, t @ t.T


def _ref_logprobs(z1, z2, tau, masked=None):
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    n2 = z.shape[0]
    out = np.full((n2, n2), -np.inf)
    for i in range(n2):
        cands = [j for j in range(n2) if j != i and not (masked is not None and masked[i][j])]
        lse = math.log(sum(math.exp(float(z[i] @ z[j]) / tau) for j in cands))
        for j in cands:
            out[i, j] = float(z[i] @ z[j]) / tau - lse
    return out


def test_simclr_equals_nt_xent():
    z1, z2, _ = _batch()
    loss, _ = resampled_nt_xent(z1, z2, None, "simclr", temperature=0.3)
    assert float(loss) == pytest.approx(float(nt_xent_loss(z1, z2, 0.3)), rel=1e-12)


def test_add_new_positive_against_reference():
    z1, z2, s = _batch()
    n2 = 40
    loss, info = resampled_nt_xent(z1, z2, s, "add_new_positive", temperature=0.5)
    lp = _ref_logprobs(z1, z2, 0.5)
    picks = []
    for i in range(n2):
        partner = (i + 20) % n2
        cand = [(float(s[i, j]), j) for j in range(n2) if j not in (i, partner)]
        picks.append(max(cand)[1])
    simclr = -np.mean([lp[i, (i + 20) % n2] for i in range(n2)])
    new = -np.mean([lp[i, picks[i]] for i in range(n2)])
    assert float(loss) == pytest.approx(0.5 * simclr + 0.5 * new, rel=1e-10)
    assert info["picked"][:, 0].tolist() == picks


@pytest.mark.parametrize("method,ratio", [("drop_false_negative", 0.1), ("drop_easy_negative", 0.2)])
def test_drop_negatives_against_reference(method, ratio):
    z1, z2, s = _batch()
    n2, count = 40, int(ratio * 40)
    masked = []
    for i in range(n2):
        row = sorted(float(v) for v in s[i])
        thr = row[-count] if method == "drop_false_negative" else row[count - 1]
        partner = (i + 20) % n2
        masked.append([(float(s[i, j]) >= thr if method == "drop_false_negative" else float(s[i, j]) <= thr)
                       and j != partner for j in range(n2)])
    lp = _ref_logprobs(z1, z2, 0.4, masked)
    expected = -np.mean([lp[i, (i + 20) % n2] for i in range(n2)])
    loss, info = resampled_nt_xent(z1, z2, s, method, temperature=0.4, ratio=ratio)
    assert float(loss) == pytest.approx(expected, rel=1e-10)
    assert 0 < info["kept_fraction"] < 1


def test_drop_false_positive_as_released_is_simclr_and_as_intended_drops_lowest_positives():
    z1, z2, s = _batch()
    released, _ = resampled_nt_xent(z1, z2, s, "drop_false_positive", temperature=0.2, as_released=True)
    assert float(released) == float(resampled_nt_xent(z1, z2, None, "simclr", temperature=0.2)[0])
    intended, info = resampled_nt_xent(z1, z2, s, "drop_false_positive", temperature=0.2, as_released=False)
    lp = _ref_logprobs(z1, z2, 0.2)
    pos = np.array([float(s[i, (i + 20) % 40]) for i in range(40)])
    keep = pos > np.sort(pos)[3]  # 10% of 40 = the 4 lowest positives dropped
    expected = -np.mean([lp[i, (i + 20) % 40] for i in range(40) if keep[i]])
    assert float(intended) == pytest.approx(expected, rel=1e-10) and info["kept_fraction"] == pytest.approx(0.9)


def test_all_methods_finite_with_gradients_in_float32():
    z1, z2, s = (t.float() for t in _batch(64))
    z1.requires_grad_(True)
    for method in METHODS:
        loss, _ = resampled_nt_xent(z1, z2, s, method, temperature=0.05)
        (grad,) = torch.autograd.grad(loss, z1)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()


@pytest.mark.parametrize("kwargs,match", [({"method": "drop_everything"}, "method"), ({"teacher": None}, "teacher"),
                                          ({"ratio": 1.0}, "ratio"), ({"top_k": 0}, "top_k"),
                                          ({"temperature": 0.0}, "temperature")])
def test_resampling_rejects_bad_arguments(kwargs, match):
    z1, z2, s = _batch()
    args = dict(teacher=s, method="drop_false_negative")
    if "top_k" in kwargs:
        args["method"] = "add_new_positive"
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        resampled_nt_xent(z1, z2, **args)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    from mmcl_core.experiments.real_data import digit_pairs

    return digit_pairs(background_strength=0.8, seed=0, cache_dir=tmp_path_factory.mktemp("cache"))


def test_background_nuisance_is_class_independent(pairs):
    tr = pairs["train"]
    agree = np.mean(tr["background_ids"] == tr["labels"] % 6)
    assert abs(agree - 1 / 6) < 0.05


@pytest.mark.parametrize("kind", zhang.TEACHERS)
def test_teachers_give_symmetric_similarities(pairs, kind):
    teacher = zhang.make_teacher(kind, pairs, epochs=2, device="cpu")
    x = torch.as_tensor(pairs["train"]["images"][:8], dtype=torch.float32)
    s = teacher(x, x, torch.arange(8))
    assert s.shape == (16, 16) and torch.allclose(s, s.T, atol=1e-6)
    if kind == "oracle":
        labels = np.tile(pairs["train"]["labels"][:8], 2)
        picks = s.fill_diagonal_(-9).argmax(1).numpy()
        assert np.all(labels[picks] == labels)


def test_resampling_run_is_deterministic_and_records_picks(pairs):
    a = zhang.resampling_run("add_new_positive", "oracle", epochs=2, pairs=pairs, device="cpu")
    b = zhang.resampling_run("add_new_positive", "oracle", epochs=2, pairs=pairs, device="cpu")
    assert a["linear_probe"] == b["linear_probe"] and a["same_label_rate"] > 0.99
    base = zhang.resampling_run("simclr", epochs=2, pairs=pairs, device="cpu")
    assert math.isnan(base["same_label_rate"]) and math.isnan(a["self_same_label_rate"])  # each where it applies
    assert 0 <= base["self_same_label_rate"] <= 1


def test_resampling_lookup_reads_the_grid_and_names_missing_options():
    grid = {zhang.resampling_key("simclr", "-", 0.8, None, 1, True): {"linear_probe": 0.9},
            zhang.resampling_key("add_new_positive", "clip", 0.8, None, 1, True): {"linear_probe": 0.93}}
    out = zhang.resampling_lookup(grid, "add_new_positive", "clip", 0.8)
    assert out["gain"] == pytest.approx(3.0)
    # options that do not apply to a method are ignored
    assert zhang.resampling_lookup(grid, "add_new_positive", "clip", 0.8, ratio=0.3)["gain"] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="not precomputed"):
        zhang.resampling_lookup(grid, "add_new_positive", "oracle", 0.8)


def test_default_ratio_keys_match_explicit_defaults():
    assert zhang.resampling_key("drop_false_negative", "clip", 0.8, None, 1, True) == \
        zhang.resampling_key("drop_false_negative", "clip", 0.8, 0.05, 1, True)
    assert zhang.resampling_key("drop_false_positive", "x", 0.8, None, 3, False).endswith("|0.1|1|False")


def test_grid_reuses_a_matching_table_and_ignores_a_mismatched_one(pairs, monkeypatch):
    calls = []
    monkeypatch.setattr(zhang_resampling, "resampling_runs",
                        lambda runs, **k: [calls.append(r) or {"linear_probe": 0.5} for r in runs])
    monkeypatch.setattr(zhang_resampling, "make_teacher", lambda *a, **k: None)
    keys = {"simclr": zhang.resampling_key("simclr", "clip", 0.8, None, 1, True)}
    table = {"seeds": [0], "settings": {"epochs": 3, "temperature": 0.2}, "row_keys": keys,
             "runs": {"simclr": [{"linear_probe": 0.9}]}}
    grid = zhang.resampling_grid((0.8,), epochs=3, reuse=table, temperature=0.2)
    assert grid[keys["simclr"]] == {"linear_probe": 0.9} and len(calls) == len(grid) - 1
    calls.clear()
    zhang.resampling_grid((0.8,), epochs=3, reuse=table, temperature=0.5)  # other settings: nothing reused
    assert len(calls) == len(grid)
    trained = []
    monkeypatch.setattr(zhang_resampling, "make_teacher", lambda name, *a, **k: trained.append(name) or name)
    table.update(background_strength=0.8, first_seed_teachers={"clip": "table's clip", "oracle": "table's oracle"})
    zhang.resampling_grid((0.8,), epochs=3, reuse=table, temperature=0.2)  # the table's teachers are reused
    assert sorted(trained) == sorted(set(zhang.TEACHERS) - {"clip", "oracle"})


def test_students_trained_side_by_side_match_separate_runs(pairs):
    runs = [("simclr", "oracle", None, 1, True), ("add_new_positive", "oracle", None, 1, True),
            ("drop_easy_negative", "caption", None, 1, True)]
    together = zhang.resampling_runs(runs, epochs=2, pairs=pairs, device="cpu")
    for spec, joint in zip(runs, together):
        alone = zhang.resampling_runs([spec], epochs=2, pairs=pairs, device="cpu")[0]
        assert abs(alone["linear_probe"] - joint["linear_probe"]) <= 0.02  # float rounding only, 2 epochs
        assert alone["self_same_label_rate"] == pytest.approx(joint["self_same_label_rate"], abs=0.02, nan_ok=True)
        if spec[0] == "add_new_positive":
            assert alone["same_label_rate"] == pytest.approx(joint["same_label_rate"], abs=0.02)
    assert together[0]["students_trained_together"] == 3
    with pytest.raises(ValueError, match="teacher"):
        zhang.resampling_runs([("add_new_positive", "nope", None, 1, True)], epochs=1, pairs=pairs, device="cpu")
    with pytest.raises(ValueError, match="runs"):
        zhang.resampling_runs([], epochs=1, pairs=pairs, device="cpu")


@pytest.mark.parametrize("method", ["drop_false_negative", "drop_easy_negative", "drop_false_positive"])
def test_a_batch_too_small_for_the_drop_ratio_raises_instead_of_falling_back(method):
    z1, z2, s = _batch(n=4)  # 2N = 8 views: 0.05 * 8 and 0.1 * 8 are below one view
    with pytest.raises(ValueError, match="ratio"):
        resampled_nt_xent(z1, z2, s, method)
    loss, _ = resampled_nt_xent(z1, z2, s, method, ratio=0.25)  # two views per row: fine
    assert torch.isfinite(loss)


def test_resampling_run_refuses_a_batch_too_small_for_its_drop_ratio():
    with pytest.raises(ValueError, match="batch_size"):
        zhang.resampling_run("drop_false_negative", batch_size=4, epochs=1)


def test_rich_captions_add_style_words_and_keep_everything_else(pairs):
    from mmcl_core.experiments import real_data

    rich = real_data.recaption(pairs, 2, seed=5)
    assert rich["test"] is pairs["test"] and rich["train"]["images"] is pairs["train"]["images"]
    assert all(any(w in c for w in ("thick", "thin")) for c in rich["train"]["captions"])
    assert not any("thick" in c or "thin" in c for c in pairs["train"]["captions"])
    assert rich["train"]["text"].shape == pairs["train"]["text"].shape
    assert np.allclose(np.linalg.norm(rich["train"]["text"], axis=1), 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="dataset"):
        real_data.digit_pairs(dataset="fashion_mnist")


def test_gain_predictors_rank_the_teachers_gains():
    def runs(probe, same, new):
        return [{"linear_probe": p, "same_label_rate": same, "new_background_rate": new} for p in probe]

    table = {"teacher": "a", "ablation_teachers": ("b", "c"), "teacher_probe": {"a": [0.9], "b": [0.8], "c": [0.7]},
             "runs": {"simclr": runs([0.90, 0.92], 0, 0), "add_new_positive": runs([0.93, 0.95], 0.5, 0.3),
                      "add_new_positive (teacher: b)": runs([0.92, 0.94], 0.9, 0.2),
                      "add_new_positive (teacher: c)": runs([0.91, 0.93], 0.1, 0.1)}}
    out = zhang.gain_predictors(table)
    assert out["gain"] == pytest.approx({"a": 3.0, "b": 2.0, "c": 1.0})
    assert out["spearman"]["teacher_probe"] == pytest.approx(1.0)
    assert out["spearman"]["new_background"] == pytest.approx(1.0)
    assert out["spearman"]["same_label"] == pytest.approx(0.5)


def test_resampling_menu_lists_only_computed_runs_and_each_answers():
    keys = [("simclr", "-", None, 1, True), ("add_new_positive", "oracle", None, 3, True),
            ("drop_false_negative", "clip", 0.2, 1, True), ("drop_false_positive", "clip", 0.1, 1, False)]
    grid = {zhang.resampling_key(m, t, 0.8, r, k, rel): {"linear_probe": 0.9 + 0.01 * i}
            for i, (m, t, r, k, rel) in enumerate(keys)}
    menu = zhang.resampling_menu(grid)
    assert [label for label, _ in menu] == ["AddNewPositive · teacher oracle · top-3",
                                            "DropFalseNegative · teacher clip · ratio 0.2",
                                            "DropFalsePositive · teacher clip · ratio 0.1 · as intended"]
    gains = [zhang.resampling_lookup_run(grid, run, 0.8)["gain"] for _, run in menu]
    assert gains == pytest.approx([1.0, 2.0, 3.0])


def test_resampling_table_rows_keys_and_probes(pairs, monkeypatch):
    import mmcl_core.experiments.real_data as real_data

    monkeypatch.setattr(real_data, "digit_pairs", lambda **k: pairs)
    table = zhang.resampling_table((0,), teacher="oracle", ablation_teachers=("caption",), epochs=1, device="cpu")
    assert table["teacher"] == "oracle" and table["ablation_teachers"] == ("caption",)
    assert set(table["runs"]) == set(table["row_keys"]) and len(table["runs"]) == 7  # 5 methods, DFP intended, 1
    assert table["row_keys"]["simclr"] == zhang.resampling_key("simclr", "oracle", 0.8, None, 1, True)
    assert table["mmcl_probe"] == table["teacher_probe"]["clip_no_aug"]  # the no-augmentation teacher's own probe
    assert zhang.gain_predictors(table)["teachers"] == ["oracle", "caption"]
