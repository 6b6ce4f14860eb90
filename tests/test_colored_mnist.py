"""MNIST-5k, ColoredMNIST, random resized crops, the batched losses and trainer, and Huang et al.'s Table 1 runner."""

import numpy as np
import pytest
import torch

from mmcl_core.data import mnist
from mmcl_core.data.augment import random_resized_crop
from mmcl_core.experiments import huang2024_mnist as cmnist
from mmcl_core.losses import clip_loss, clip_loss_batched, nt_xent_loss, nt_xent_loss_batched
from mmcl_core.train import train_stacked


def test_mnist5k_is_500_digits_per_class_in_unit_range():
    images, labels = mnist.load_mnist5k()
    assert images.shape == (5000, 28, 28) and labels.shape == (5000,)
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.min() == 0.0 and images.max() == 1.0


def test_mnist_at_8x8_keeps_labels_and_fits_the_8x8_tools():
    from mmcl_core.data import digits
    from mmcl_core.data.mnist import load_mnist5k, load_mnist5k_8x8

    small, labels = load_mnist5k_8x8()
    assert small.shape == (5000, 8, 8) and np.array_equal(labels, load_mnist5k()[1])
    assert small.min() >= 0 and np.allclose(small.max(axis=(1, 2)), 1.0)
    words = digits.attribute_words(small, own_medians=True)  # split at MNIST's own medians: balanced words
    for name, w in words.items():
        assert 0.4 < np.mean(w == digits.ATTRIBUTE_WORDS[name][1]) < 0.6, name


def test_split_is_stratified_disjoint_and_seeded():
    tr, te = mnist.mnist_split(400, 100, seed=3)
    _, labels = mnist.load_mnist5k()
    assert not set(tr) & set(te)
    assert np.bincount(labels[tr]).tolist() == [40] * 10 and np.bincount(labels[te]).tolist() == [10] * 10
    again = mnist.mnist_split(400, 100, seed=3)
    assert np.array_equal(tr, again[0]) and np.array_equal(te, again[1])
    assert not np.array_equal(tr, mnist.mnist_split(400, 100, seed=4)[0])
    with pytest.raises(ValueError, match="n_test"):
        mnist.mnist_split(4000, 1500)
    with pytest.raises(ValueError, match="n_train"):
        mnist.mnist_split(405, 100)


def test_colored_mnist_follows_the_paper_rule_and_reverses_it_at_test():
    data = mnist.colored_mnist(seed=0)
    tr, te = data["train"], data["test"]
    assert tr["images"].shape == (4000, 3, 28, 28) and te["images"].shape == (1000, 3, 28, 28)
    assert abs(np.mean(tr["color_ids"] == tr["labels"]) - 0.775) < 0.03
    assert abs(np.mean(te["color_ids"] == (te["labels"] + 1) % 10) - 0.775) < 0.05
    assert np.mean(te["color_ids"] == te["labels"]) < 0.05  # at test the own colour is rare
    assert 0.08 < np.mean(tr["labels"] != tr["true_labels"]) < 0.12
    again = mnist.colored_mnist(seed=0)
    assert np.array_equal(again["train"]["images"], tr["images"])
    assert np.array_equal(again["test"]["labels"], te["labels"])


@pytest.mark.parametrize("kwargs, name", [({"p_color": 1.5}, "p_color"), ({"p_color": -0.1}, "p_color"),
                                          ({"label_noise": 2.0}, "label_noise")])
def test_colored_mnist_rejects_probabilities_outside_the_unit_interval(kwargs, name):
    with pytest.raises(ValueError, match=name):
        mnist.colored_mnist(**kwargs)


def test_random_resized_crop_is_seeded_and_checks_its_scale():
    x = torch.rand(2, 5, 3, 14, 14)
    a = random_resized_crop(x, torch.Generator().manual_seed(1))
    b = random_resized_crop(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b)
    full = random_resized_crop(x, torch.Generator().manual_seed(1), scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert torch.allclose(full, x, atol=1e-5)  # the whole image, unchanged
    for scale in ((0.0, 1.0), (0.5, 1.5), (0.8, 0.5)):
        with pytest.raises(ValueError, match="scale"):
            random_resized_crop(x, torch.Generator(), scale=scale)


def test_batched_losses_equal_the_per_model_losses():
    g = torch.Generator().manual_seed(0)
    za = torch.randn(3, 8, 5, generator=g, dtype=torch.float64)
    zb = torch.randn(3, 8, 5, generator=g, dtype=torch.float64)
    za_n, zb_n = torch.nn.functional.normalize(za, dim=2), torch.nn.functional.normalize(zb, dim=2)
    per = torch.stack([clip_loss(za_n[k], zb_n[k], 0.1) for k in range(3)])
    assert torch.allclose(clip_loss_batched(za_n, zb_n, 0.1), per, atol=1e-12)
    per = torch.stack([nt_xent_loss(za[k], zb[k], 0.2) for k in range(3)])
    assert torch.allclose(nt_xent_loss_batched(za, zb, 0.2), per, atol=1e-12)
    with pytest.raises(ValueError, match="temperature"):
        clip_loss_batched(za_n, zb_n, 0.0)


def test_a_seed_trains_the_same_model_alone_or_beside_others():
    rng = np.random.default_rng(0)
    x = rng.random((2, 64, 3, 6, 6)).astype(np.float32)
    text = rng.random((2, 64, 4)).astype(np.float32)
    kw = dict(epochs=2, batch_size=32, hidden_dim=16, out_dim=8, text_hidden_dim=8, device="cpu")
    for encoder in ("mlp", "cnn"):
        for mode, extra in (("simclr", {}), ("clip", {"text": text})):
            both = train_stacked(x, seeds=[1, 3], mode=mode, encoder=encoder, **extra, **kw)
            alone = train_stacked(x[1:], seeds=[3], mode=mode, encoder=encoder,
                                  **({"text": text[1:]} if extra else {}), **kw)
            feats = both["image"].features(torch.as_tensor(x.reshape(2, 64, -1)))
            solo = alone["image"].features(torch.as_tensor(x[1:].reshape(1, 64, -1)))
            assert np.allclose(feats[1], solo[0], atol=1e-5), (encoder, mode)
            assert np.isfinite(both["losses"]).all()
    with pytest.raises(ValueError, match="encoder"):
        train_stacked(x, seeds=[1, 3], mode="simclr", encoder="resnet", **kw)


def test_table_runs_small_and_summarises():
    table = cmnist.colored_mnist_table((0, 1), methods=("single", "multi_digit"), n_train=200, n_test=100, epochs=1,
                                       device="cpu")
    for m in ("single", "multi_digit"):
        assert table[m]["id_accuracy"].shape == (2,) and table[m]["ood_accuracy"].shape == (2,)
        assert ((0 <= table[m]["ood_accuracy"]) & (table[m]["ood_accuracy"] <= 1)).all()
    s = cmnist.colored_mnist_summary(table)
    assert s["single"]["ood_gain"] is None
    assert s["multi_digit"]["ood_gain"] == pytest.approx(
        float(np.mean(table["multi_digit"]["ood_accuracy"] - table["single"]["ood_accuracy"])))
    grid = cmnist.colored_mnist_grid(table, crop_scales=(1.0,), p_colors=())
    assert grid["settings"] == ["reference", "crop_scale=1"]
    point = cmnist.colored_mnist_lookup(grid, "multi_digit")
    assert point["ood_gain"] == pytest.approx(float(table["multi_digit"]["ood_accuracy"][0]
                                                    - table["single"]["ood_accuracy"][0]))
    mild = cmnist.colored_mnist_lookup(grid, "multi_digit", "crop_scale=1")
    assert mild["multi_digit"] == point["multi_digit"]  # the caption model uses no crops
    with pytest.raises(ValueError, match="setting"):
        cmnist.colored_mnist_lookup(grid, "multi_digit", "p_color=0.5")
    with pytest.raises(ValueError, match="caption"):
        cmnist.colored_mnist_lookup(grid, "single")


@pytest.mark.parametrize("kwargs, name", [({"methods": ("multi_emoji",)}, "method"),
                                          ({"crop_scale": 0.0}, "crop_scale"),
                                          ({"crop_scale": 1.2}, "crop_scale"), ({"p_color": 1.5}, "p_color"),
                                          ({"label_noise": -0.5}, "label_noise"),
                                          ({"probe_layer": "deep"}, "probe_layer"),
                                          ({"caption_digit": "label"}, "caption_digit")])
def test_table_rejects_bad_input_naming_it(kwargs, name):
    with pytest.raises(ValueError, match=name):
        cmnist.colored_mnist_table((0,), **kwargs)


def test_table_rejects_unknown_settings_and_takes_a_setting_object():
    with pytest.raises(TypeError, match="unknown settings .'widths'."):
        cmnist.colored_mnist_table((0,), widths=3)
    with pytest.raises(ValueError, match="pool"):
        cmnist.ColoredMnistSetting(pool=5)
    setting = cmnist.ColoredMnistSetting.for_profile("quick")
    assert setting.epochs == 30 and setting.pool == 2 and setting.p_color == 0.775


def test_caption_inputs_and_paired_t():
    digits, colors = np.array([3, 1]), np.array([0, 9])
    onehot = cmnist.caption_inputs("multi_digit_color", digits, colors)
    assert onehot.shape == (2, 20) and onehot[0, 3] == 1 and onehot[0, 10] == 1 and onehot[1, 19] == 1
    assert cmnist.caption_inputs("multi_digit", digits, colors).shape == (2, 10)
    with pytest.raises(ValueError, match="method"):
        cmnist.caption_inputs("multi_emoji", digits, colors)
    assert cmnist.paired_t([0.6, 0.7, 0.65], [0.4, 0.45, 0.5]) == pytest.approx(0.2 / (0.05 / np.sqrt(3)))
    with pytest.raises(ValueError, match="two seeds"):
        cmnist.paired_t([0.5], [0.4])
