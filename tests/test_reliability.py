"""Regression tests of hostile-user findings: caches that know what they hold, workers that die with their parent,
inputs checked at the public boundary. Each test names the finding it covers (numbered as in the project's
reliability review); the CLI findings 5-8 are covered by
``test_notebooks.py::test_cli_failures_are_clean_errors_before_anything_runs``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from mmcl_core import losses, spectral, sweep
from mmcl_core.data import augment, captions, digits, shifts, text
from mmcl_core.experiments import huang2024, nakada2023, xue2024, zhang2023
from conftest import ROOT


# --- 1-2: the caption-embedding cache ------------------------------------------------------------------------------

def _model_folder(root: Path, weights: bytes) -> Path:
    folder = root / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 4}')
    (folder / "1_Pooling" / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def test_1_two_models_in_folders_of_one_name_and_size_get_different_cache_entries(tmp_path):
    a = _model_folder(tmp_path / "a", b"\x00" * 64)
    b = _model_folder(tmp_path / "b", b"\x01" * 64)  # same folder name, same file sizes, other weights
    caps = ["a photo of the digit one"]
    assert text.cache_path(caps, a, tmp_path / "c") != text.cache_path(caps, b, tmp_path / "c")
    assert text.model_fingerprint(str(a)) != text.model_fingerprint(str(b))
    assert text.model_fingerprint(str(a)) == text.model_fingerprint(str(_model_folder(tmp_path / "a2", b"\x00" * 64)))


class _FakeEncoder:
    """Stands in for MiniLM: deterministic unit vectors, and a count of the calls."""

    calls = 0

    def encode(self, sentences, **_):
        type(self).calls += 1
        rows = [np.random.default_rng(sum(map(ord, s))).standard_normal(8) for s in sentences]
        return np.array([r / np.linalg.norm(r) for r in rows])


@pytest.fixture
def fake_tower(monkeypatch):
    monkeypatch.setattr(text, "load_text_model", lambda model, device="cpu": _FakeEncoder())
    _FakeEncoder.calls = 0
    return _FakeEncoder


def _rewrite(path: Path, **fields) -> None:
    with np.load(path) as z:
        doc = {k: z[k] for k in z.files}
    doc.update(fields)
    with open(path, "wb") as fh:
        np.savez(fh, **doc)


def test_2_damaged_foreign_or_edited_caption_cache_entries_are_never_returned(tmp_path, fake_tower):
    caps, other = ["one", "two", "three"], ["four", "five", "six"]
    good = text.embed_captions(caps, cache_dir=tmp_path)
    path = text.cache_path(caps, cache_dir=tmp_path)
    with np.load(path) as z:
        emb = z["embeddings"]
    damages = {
        "negated values, old checksum": lambda: _rewrite(path, embeddings=-emb),
        "shape (n, 10)": lambda: _rewrite(path, embeddings=np.ones((3, 10), np.float32),
                                          sha256=np.array(text._content_hash(np.ones((3, 10), np.float32)))),
        "rows not unit-norm, checksum redone": lambda: _rewrite(path, embeddings=2 * emb,
                                                                sha256=np.array(text._content_hash(2 * emb))),
        "float64, checksum redone": lambda: _rewrite(path, embeddings=emb.astype(np.float64),
                                                     sha256=np.array(text._content_hash(emb.astype(np.float64)))),
        "truncated": lambda: path.write_bytes(path.read_bytes()[:100]),
        "another request's entry copied over": lambda: (text.embed_captions(other, cache_dir=tmp_path),
                                                        path.write_bytes(text.cache_path(other, cache_dir=tmp_path)
                                                                         .read_bytes())),
    }
    for what, damage in damages.items():
        damage()
        calls = fake_tower.calls
        with pytest.warns(RuntimeWarning, match="not usable"):
            again = text.embed_captions(caps, cache_dir=tmp_path)
        assert fake_tower.calls == calls + 1, what  # recomputed, not loaded
        np.testing.assert_array_equal(again, good, err_msg=what)
    path.unlink()
    path.mkdir()  # a directory where the entry should be: computed, not cached, no crash
    with pytest.warns(RuntimeWarning, match="not a file"):
        np.testing.assert_array_equal(text.embed_captions(caps, cache_dir=tmp_path), good)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(ValueError, match="cache_dir"):
        text.embed_captions(caps, cache_dir=not_a_folder)


# --- 3-4: the sweep cache and its workers --------------------------------------------------------------------------

def _point(x, seed):
    return {"y": x * 10 + seed}


def _arrays(x, seed):
    return {"v": np.arange(3, dtype=np.float64) + x + seed}


def _nan(x, seed):
    return {"y": float("nan") if x else 1.0}


def test_3_sweep_cache_never_returns_another_requests_or_an_altered_entry(tmp_path):
    run = lambda fn, x, **kw: sweep.run_sweep(fn, [{"x": x}], seeds=[0], executor="serial", cache_dir=tmp_path,
                                              # noqa: E731
                                              progress=False, **kw)
    a, b = run(_point, 1), run(_point, 2)
    assert (a.computed, b.computed) == (1, 1)
    name = f"{__name__}._point"
    file_a = tmp_path / f"_point-{sweep.point_key(name, '1', {'x': 1}, 0)}.json"
    file_b = tmp_path / f"_point-{sweep.point_key(name, '1', {'x': 2}, 0)}.json"
    file_b.write_bytes(file_a.read_bytes())  # A's entry under B's name
    again = run(_point, 2)
    assert again.computed == 1 and again.columns["y"][0] == 20
    assert run(_point, 2, version="2").computed == 1  # another version is another request
    # NPZ: the same bytes read as another dtype fail the checksum
    run(_arrays, 1)
    npz = next(tmp_path.glob("_arrays-*.npz"))
    with np.load(npz) as z:
        doc = {k: z[k] for k in z.files}
    doc["r_v"] = doc["r_v"].view(np.int64)
    with open(npz, "wb") as fh:
        np.savez(fh, **doc)
    redo = run(_arrays, 1)
    assert redo.computed == 1 and redo.columns["v"].dtype == np.float64
    # non-finite results: strict JSON only (they go to NPZ), and read back as NaN
    run(_nan, 1)
    for f in tmp_path.glob("_nan-*.json"):
        json.loads(f.read_text(), parse_constant=lambda c: pytest.fail(f"{f.name} holds {c}"))
    assert np.isnan(run(_nan, 1).columns["y"][0]) and run(_nan, 1).computed == 0


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out |= {int(c) for c in (task / "children").read_text().split()}
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to list child processes")
def test_4_workers_of_a_killed_process_sweep_exit(tmp_path):
    (tmp_path / "slowmod.py").write_text(textwrap.dedent(f"""
        import os, time
        def slow(x, seed):
            open(os.path.join({str(tmp_path)!r}, f"worker-{{os.getpid()}}"), "w").close()
            time.sleep(120)
            return {{"x": x}}
    """))
    script = ("from mmcl_core import sweep\nimport slowmod\n"
              "sweep.run_sweep(slowmod.slow, [{'x': 1}, {'x': 2}], executor='process', max_workers=2, progress=False)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    parent = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("worker-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(list(tmp_path.glob("worker-*"))) == 2, "the workers did not start"
        children = _children(parent.pid)  # the two workers and multiprocessing's resource tracker
        assert len(children) >= 2
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [c for c in children if _alive(c)]
        assert not left, f"processes left running after kill -9 of the sweep: {left}"
    finally:
        for c in _children(parent.pid) if _alive(parent.pid) else ():
            os.kill(c, signal.SIGKILL)
        parent.kill()


# --- 9-13: inputs --------------------------------------------------------------------------------------------------

def test_9_float32_distributions_are_accepted_and_atol_is_checked():
    rng = np.random.default_rng(0)
    for _ in range(50):
        P = rng.random((7, 5)).astype(np.float32)
        spectral.normalized_cooccurrence(P / P.sum())
        T = torch.rand(7, 5, generator=torch.Generator().manual_seed(int(rng.integers(1 << 30))))
        spectral.normalized_cooccurrence(T / T.sum())
    for bad in (float("nan"), -1.0, "1e-8"):
        with pytest.raises((ValueError, TypeError), match="atol"):
            spectral.normalized_cooccurrence(np.full((2, 2), 0.25), atol=bad)
    with pytest.raises(ValueError, match="sum to 1"):
        spectral.normalized_cooccurrence(np.full((2, 2), 5.0))


def test_10_mixed_kinds_half_precision_tiny_and_fraction_temperatures():
    z32, z64 = torch.randn(4, 3), torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="z_a, z_b"):
        losses.clip_loss(z32, z64)
    with pytest.raises(TypeError, match="X, Y"):
        spectral.cross_covariance(np.ones((3, 2)), torch.ones(3, 2))
    with pytest.raises(TypeError, match="X, Y, M"):
        spectral.clip_weights(torch.ones(3, 2), torch.ones(3, 2, dtype=torch.float64), torch.ones(2, 2), 0.1)
    for half in (torch.float16, torch.bfloat16):
        z = torch.randn(8, 4, generator=torch.Generator().manual_seed(0)).to(half)
        for loss in (losses.clip_loss, losses.nt_xent_loss):
            value = loss(z, z.flip(0), temperature=0.01)
            assert value.dtype == torch.float32 and torch.isfinite(value)
    with pytest.raises(ValueError, match="temperature"):
        losses.clip_loss(z32, z32, temperature=1e-45)
    with pytest.raises(ValueError, match="temperature"):
        spectral.clip_weights(np.ones((3, 2)), np.ones((3, 2)), np.ones((2, 2)), 1e-320)
    assert float(losses.clip_loss(z32, z32, Fraction(1, 10))) == pytest.approx(float(losses.clip_loss(z32, z32, 0.1)))


def test_11_zero_sizes_and_missing_or_int_rngs():
    for call, name in ((lambda: zhang2023.class_noise_phi(0, 0.1), "n_classes"),
                       (lambda: huang2024.n_snr2(10, 1.0, 1.0, 0), "d"),
                       (lambda: huang2024.mu_norm_for(1.0, n=0, noise_std=1.0, d=10), "n"),
                       (lambda: xue2024.supervised_weights(p_train=1), "p_train")):
        with pytest.raises(ValueError, match=name):
            call()
    calls = {
        "random_joint": lambda rng: zhang2023.random_joint(3, 3, rng),
        "masking_cl": lambda rng: nakada2023.masking_cl(np.arange(20.0).reshape(5, 4) ** 1.5, 2, rng=rng),
        "binary_model": lambda rng: xue2024.binary_model(10, rng=rng)["x_img"],
        "nuisance_ids": lambda rng: digits.nuisance_ids(np.arange(10), 3, "correlated", 0.5, rng=rng),
        "make_captions": lambda rng: captions.make_captions(np.arange(10), 0, rng=rng)["template_ids"],
        "apply_style_shift": lambda rng: shifts.apply_style_shift(np.full((2, 8, 8), 0.5), "rotate", rng=rng),
    }
    for name, call in calls.items():
        with pytest.raises(TypeError, match="rng"):
            call(None)
        np.testing.assert_array_equal(call(7), call(np.random.default_rng(7)), err_msg=name)  # an int is a seed


def test_12_silently_wrong_inputs_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="color_ids"):
        captions.make_captions(np.array([0, 1]), 1, rng=rng, color_ids=np.array([-1, 0]))
    with pytest.raises(ValueError, match="labels"):
        digits.nuisance_ids(np.array([-3, 1]), 10, "correlated", rng=rng)
    with pytest.raises(ValueError, match="labels"):
        digits.nuisance_ids(np.array([0, 1.7]), 10, "correlated", rng=rng)
    with pytest.raises(TypeError, match="generator"):
        augment.augment(torch.zeros(2, 1, 8, 8), None)
    with pytest.raises(TypeError, match="generator"):
        augment.random_resized_crop(torch.zeros(2, 1, 8, 8), None)
    with pytest.raises(ValueError, match="rank"):
        nakada2023.pca(np.random.default_rng(0).standard_normal((5, 4)), 0)
    with pytest.raises(TypeError, match="captions"):
        text.embed_captions("abc")
    with pytest.raises(ValueError, match="x and acc"):
        huang2024.crossing([1, 2, 3], [0.1, 0.9])


def test_12_a_panel_refuses_values_its_controls_do_not_offer():
    import ipywidgets as widgets

    from mmcl_core.widgets import interactive_panel

    panel = interactive_panel(lambda temperature, kind: {"t": temperature, "k": kind}, None,
                              {"temperature": widgets.FloatSlider(value=0.5, min=0.1, max=2.0),
                               "kind": widgets.Dropdown(options=["a", "b"])})
    with pytest.raises(ValueError, match="temperature"):
        panel.update(temperature=-1)
    with pytest.raises(ValueError, match="kind"):
        panel.update(kind="c")
    assert panel.update(temperature=1.5, kind="b") == {"t": 1.5, "k": "b"}


def test_13_errors_name_the_argument_given():
    with pytest.raises(ValueError, match=r"\bn must"):
        nakada2023.recovery_error(-10, 0.1)
    with pytest.raises(ValueError, match="paired_epochs"):
        nakada2023.semi_supervised_proxy(paired_epochs=-1)
    with pytest.raises(ValueError, match="template"):
        captions.prompt_captions("{digit} {other}")
    with pytest.raises(ValueError, match="draws"):
        huang2024.train_batched([])


# --- 14: no name lookup, a Dask recipe that is safe by default -----------------------------------------------------

def test_14_dask_client_refuses_a_plain_tcp_scheduler_on_the_network():
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="address"):
        sweep.dask_client("tcp://10.1.2.3:8786")
    with pytest.raises(ValueError, match="address"):
        sweep.dask_client("tls://10.1.2.3:8786")  # TLS without certificates
    readme = (ROOT / "README.md").read_text()
    assert "dask scheduler --protocol tls" in readme and "dask worker tcp://" not in readme


@pytest.mark.slow
def test_14_local_dask_cluster_listens_on_loopback_only():
    pytest.importorskip("distributed")
    with sweep.dask_client(n_workers=1) as client:
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert all(w.startswith("tcp://127.0.0.1:") for w in client.scheduler_info()["workers"])


@pytest.mark.slow
def test_14_loading_a_model_by_name_makes_no_name_lookup(tmp_path):
    script = textwrap.dedent("""
        import socket
        looked_up = []
        real = socket.getaddrinfo
        def record(host, *args, **kwargs):
            looked_up.append(host)
            return real(host, *args, **kwargs)
        socket.getaddrinfo = record
        from mmcl_core.data import text
        try:
            text.load_text_model("sentence-transformers/some-model-not-in-the-cache")
        except RuntimeError:
            pass
        print("LOOKUPS", looked_up)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env["HF_HOME"] = str(tmp_path / "hf")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert "LOOKUPS []" in out.stdout, out.stdout + out.stderr
