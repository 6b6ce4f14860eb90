"""Towers, the shared trainer and the probes: the CLIP-style acceptance run and determinism."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from mmcl_core.experiments import real_data
from mmcl_core.models import make_tower
from mmcl_core.probes import few_shot_probe, knn_accuracy, linear_probe, zero_shot_accuracy
from mmcl_core.train import train_contrastive


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return real_data.digit_pairs(seed=0, cache_dir=tmp_path_factory.mktemp("cache"))


def _numbers(result):
    return {m: {k: v for k, v in result[m].items() if k in ("linear_probe", "knn", "few_shot", "zero_shot")}
            for m in ("clip", "simclr")}


def test_clip_style_run_meets_the_acceptance_bar(pairs):
    result = real_data.clip_vs_simclr(pairs, epochs=20, seed=0, device="cpu")
    assert result["clip"]["zero_shot"] >= 0.90
    assert result["clip"]["linear_probe"] >= 0.95
    assert result["clip"]["seconds"] <= 10.0
    assert result["simclr"]["linear_probe"] > 0.5  # SimCLR learns something, too
    assert result["clip"]["history"]["loss"][-1] < result["clip"]["history"]["loss"][0]


@pytest.mark.slow  # experiment scale (seconds): the full tier runs it
def test_same_seed_same_numbers_in_process_and_across_processes(pairs, tmp_path):
    a = _numbers(real_data.clip_vs_simclr(pairs, epochs=3, seed=5, device="cpu"))
    b = _numbers(real_data.clip_vs_simclr(pairs, epochs=3, seed=5, device="cpu"))
    assert a == b
    script = textwrap.dedent(f"""
        import json
        from mmcl_core.experiments import real_data
        r = real_data.clip_vs_simclr(real_data.digit_pairs(seed=0, cache_dir={str(tmp_path)!r}), epochs=3, seed=5,
                                     device="cpu")
        print(json.dumps({{m: {{k: v for k, v in r[m].items() if k in ("linear_probe", "knn", "few_shot", "zero_shot")}}
                          for m in ("clip", "simclr")}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == a
    c = _numbers(real_data.clip_vs_simclr(pairs, epochs=3, seed=6, device="cpu"))
    assert c != a


def test_make_tower_is_seeded_without_touching_global_rng():
    state = torch.random.get_rng_state()
    t1, t2 = make_tower(64, 8, seed=3), make_tower(64, 8, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(t1.parameters(), t2.parameters()))
    assert make_tower(64, 8, n_hidden=0).net[-1].in_features == 64


def test_learnable_temperature_stays_in_its_clamp(pairs):
    tower = make_tower(64, 16, seed=0)
    head = make_tower(384, 16, n_hidden=0, seed=1)
    run = train_contrastive(tower, pairs["train"]["images"], text_embeddings=pairs["train"]["text"], text_head=head,
                            epochs=2, temperature=0.07, learn_temperature=True, device="cpu")
    assert all(0.01 - 1e-6 <= t <= 1.0 + 1e-6 for t in run["history"]["temperature"])


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"mode": "byol"}, ValueError, "mode"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"lr": -1.0}, ValueError, "lr"),
    ({"temperature": 0.0}, ValueError, "temperature"),
    ({"mode": "clip", "text_embeddings": None}, ValueError, "text_embeddings"),
    ({"images": np.full((4, 1, 8, 8), np.nan)}, ValueError, "finite"),
])
def test_trainer_rejects_bad_arguments(kwargs, exc, match):
    args = dict(image_tower=make_tower(64, 4), images=np.zeros((4, 1, 8, 8)), mode="simclr", device="cpu")
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        train_contrastive(**args)


def test_probes_on_separable_features():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 30)
    x = np.eye(4)[y] * 5 + 0.1 * rng.standard_normal((120, 4))
    assert linear_probe(x[::2], y[::2], x[1::2], y[1::2])["accuracy"] == 1.0
    assert few_shot_probe(x[::2], y[::2], x[1::2], y[1::2], shots=2)["accuracy"] == 1.0
    assert knn_accuracy(x[::2], y[::2], x[1::2], y[1::2], n_neighbors=3) == 1.0
    assert zero_shot_accuracy(x, np.eye(4), y)["accuracy"] == 1.0
    with pytest.raises(ValueError, match="shots"):
        few_shot_probe(x[::2], y[::2], x[1::2], y[1::2], shots=100)
    with pytest.raises(ValueError, match="share k"):
        zero_shot_accuracy(x, np.eye(3), y)
    with pytest.raises(ValueError, match="finite"):
        linear_probe(np.full((4, 2), np.nan), y[:4], x[:4, :2], y[:4])


def test_raw_probe_differs_from_standardised_on_a_low_variance_cue():
    """A feature with tiny variance that predicts the training labels perfectly but is permuted at test: standardising
    amplifies it (the probe then uses it and fails at test); the raw probe, under the same L2 penalty, barely does."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    shape = (2 * y - 1) + 1.5 * rng.standard_normal(400)  # a noisy, high-variance core feature
    cue = 1e-3 * (2 * y - 1)  # a clean, tiny cue
    x_tr = np.stack([shape, cue], 1)
    x_te = np.stack([shape, -cue], 1)  # the cue reversed at test
    raw = linear_probe(x_tr, y, x_te, y, standardize=False)
    std = linear_probe(x_tr, y, x_te, y)
    assert std["train_accuracy"] == 1.0 and std["accuracy"] < 0.2
    assert raw["accuracy"] > 0.7 and abs(raw["accuracy"] - raw["train_accuracy"]) < 0.05
    with pytest.raises(TypeError, match="standardize"):
        linear_probe(x_tr, y, x_te, y, standardize="no")


def test_train_supervised_learns_and_checks_labels():
    import numpy as np

    from mmcl_core.models import make_tower
    from mmcl_core.train import train_supervised

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = (rng.standard_normal((300, 1, 8, 8)) * 0.3 + y[:, None, None, None]).astype(np.float32)
    tower = make_tower(64, 16, hidden_dim=32, seed=0, device="cpu")
    head, run = train_supervised(tower, x, y, n_classes=3, epochs=30, batch_size=64, device="cpu")
    assert run["history"]["loss"][-1] < run["history"]["loss"][0]
    import torch
    with torch.no_grad():
        assert (head(tower(torch.as_tensor(x))).argmax(1).numpy() == y).mean() > 0.95
    with pytest.raises(ValueError, match="labels"):
        train_supervised(make_tower(64, 16, seed=0, device="cpu"), x, y + 5, n_classes=3, epochs=1, device="cpu")


def test_batched_clip_training_follows_the_single_model_loop():
    """Model b of the batched program = train_contrastive(seed=seeds[b]) from the same initialisation (float32)."""
    from mmcl_core.models import make_tower
    from mmcl_core.train import train_clip_batched, train_contrastive

    rng = np.random.default_rng(0)
    images = rng.random((90, 1, 8, 8))
    text = np.eye(5)[rng.integers(0, 5, 90)]
    seeds = [3, 7]
    towers = [make_tower(64, 8, hidden_dim=16, seed=s) for s in seeds]
    heads = [make_tower(5, 8, hidden_dim=16, seed=s + 1) for s in seeds]
    out = train_clip_batched(towers, heads, images, text, seeds=seeds, epochs=3, batch_size=32, device="cpu")
    for b, s in enumerate(seeds):
        tower, head = make_tower(64, 8, hidden_dim=16, seed=s), make_tower(5, 8, hidden_dim=16, seed=s + 1)
        ref = train_contrastive(tower, images, mode="clip", text_embeddings=text, text_head=head, epochs=3,
                                batch_size=32, seed=s, device="cpu")
        assert np.allclose(out["loss"][b], ref["history"]["loss"], rtol=1e-5)
        for p, q in zip(tower.parameters(), towers[b].parameters()):
            assert torch.allclose(p, q, atol=1e-5)
    assert not np.allclose(out["loss"][0], out["loss"][1])  # the two models really differ
    with pytest.raises(ValueError, match="same positive length"):
        train_clip_batched(towers, heads[:1], images, text, seeds=seeds)
    with pytest.raises(ValueError, match="text_embeddings"):
        train_clip_batched(towers, heads, images, text[:10], seeds=seeds)
