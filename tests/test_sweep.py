"""The sweep engine: the same numbers through every path, an interrupted sweep resumes, a damaged cache entry is
recomputed, and the tidy table."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from functools import partial

import numpy as np
import pytest

from mmcl_core import sweep
from mmcl_core.experiments import huang2024 as huang

TINY = dict(d=300, n=20, m=8, n_test=20, epochs=20, dtype="float64", sampler="vectors")


def _tiny_points():
    return [{**TINY, "mode": "multi", "n_snr2": v, "c_mu": c} for c in (1.0, 3.0) for v in (0.5, 4.0)]


def _toy(*, a, b, seed, calls=None):
    if calls is not None:
        calls.append((a, b, seed))
    return {"value": a * 10 + b + 0.5 * seed, "square": float(a) ** 2}


def _toy_array(*, a, seed):
    return {"curve": np.arange(3) * a + seed}


def test_grid_is_the_cartesian_product_in_order():
    assert sweep.grid(a=(1, 2), b=("x", "y")) == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"},
                                                  {"a": 2, "b": "y"}]
    with pytest.raises(ValueError, match="axis 'b'"):
        sweep.grid(a=(1,), b=())


@pytest.mark.slow  # experiment scale (seconds): the full tier runs it
def test_same_numbers_batched_serial_process_pool_and_dask():
    from distributed import Client, LocalCluster

    points, seeds = _tiny_points(), (0, 1)
    fn = partial(huang.phase_point, device="cpu")
    runs = {"batched": sweep.run_sweep(fn, points, seeds=seeds, batched=partial(huang.phase_points, device="cpu"),
                                       progress=False),
            "serial": sweep.run_sweep(fn, points, seeds=seeds, executor="serial", progress=False),
            "process": sweep.run_sweep(fn, points, seeds=seeds, executor="process", max_workers=2, progress=False)}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        runs["dask"] = sweep.run_sweep(fn, points, seeds=seeds, executor=client, progress=False)
    ref = runs["batched"].columns
    assert len(runs["batched"]) == 8 and len(set(ref["ood_accuracy"])) > 1  # the grid really varies
    for name, table in runs.items():
        assert np.array_equal(table.columns["ood_accuracy"], ref["ood_accuracy"]), name
        assert np.allclose(table.columns["final_loss"], ref["final_loss"], rtol=0, atol=1e-10), name
        assert list(table.columns["n_snr2"]) == list(ref["n_snr2"]) and list(table.columns["seed"]) == [0, 1] * 4


def test_phase_diagram_reads_its_cache(tmp_path):
    kw = dict(snr_values=(0.5, 4.0), c_mu_values=(3.0,), seeds=(0,), cache_dir=tmp_path, **{
        k: v for k, v in TINY.items() if k not in ("dtype", "sampler")})
    first = huang.phase_diagram(**kw)
    again = huang.phase_diagram(**kw)
    assert first["computed"] == 4 and again["computed"] == 0
    assert np.array_equal(first["multi"], again["multi"]) and np.array_equal(first["single"], again["single"])


def test_a_killed_sweep_resumes_with_only_the_missing_points(tmp_path):
    script = textwrap.dedent(f"""
        import time
        from mmcl_core import sweep

        def slow(*, a, b, seed):
            time.sleep(0.25)
            return {{"value": a * 10 + b + 0.5 * seed, "square": float(a) ** 2}}

        sweep.run_sweep(slow, sweep.grid(a=range(4), b=range(3)), executor="serial", cache_dir={str(tmp_path)!r},
                        name="toy", progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("*.json"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(tmp_path.glob("*.json")))
    assert 4 <= done < 12, done  # killed midway
    calls = []
    table = sweep.run_sweep(partial(_toy, calls=calls), sweep.grid(a=range(4), b=range(3)), executor="serial",
                            cache_dir=tmp_path, name="toy", progress=False)
    assert table.computed == len(calls) == 12 - done and table.cached == done
    assert np.array_equal(table.columns["value"], [a * 10 + b for a in range(4) for b in range(3)])
    assert not list(tmp_path.glob("*.tmp"))  # no partial files left visible as entries


def test_a_truncated_or_altered_cache_entry_is_recomputed(tmp_path):
    points = sweep.grid(a=(1, 2), b=(0,))
    run = partial(sweep.run_sweep, points=points, seeds=(0, 1), executor="serial", cache_dir=tmp_path, name="toy",
                  progress=False)
    first = run(_toy)
    files = sorted(tmp_path.glob("*.json"))
    assert first.computed == 4 and len(files) == 4
    files[0].write_bytes(files[0].read_bytes()[:40])  # truncated
    doc = json.loads(files[1].read_text())
    doc["result"]["value"] += 1.0  # valid JSON, wrong numbers: the checksum catches it
    files[1].write_text(json.dumps(doc))
    calls = []
    again = run(partial(_toy, calls=calls))
    assert again.computed == 2 and len(calls) == 2 and again.cached == 2
    assert np.array_equal(again.columns["value"], first.columns["value"])
    arrays = partial(sweep.run_sweep, _toy_array, sweep.grid(a=(1, 2)), executor="serial", cache_dir=tmp_path,
                     name="arr", progress=False)
    assert arrays().computed == 2
    npz = sorted(tmp_path.glob("arr-*.npz"))
    npz[0].write_bytes(npz[0].read_bytes()[:100])
    table = arrays()
    assert table.computed == 1 and np.array_equal(table.columns["curve"], [[0, 1, 2], [0, 2, 4]])


def test_sweep_table_selects_and_averages_over_seeds():
    table = sweep.run_sweep(_toy, sweep.grid(a=(1, 2), b=(0,)), seeds=(0, 2), executor="serial", progress=False)
    assert table.where(a=2).columns["value"].tolist() == [20.0, 21.0]
    assert table.mean_over_seeds("value") == {(1, 0): 10.5, (2, 0): 20.5}
    with pytest.raises(ValueError, match="no row"):
        table.where(a=3)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(fn=_toy, points=[{"a": 1, "b": 0, "seed": 0}]), ValueError, "seed"),
    (dict(fn=_toy, points=[{"a": 1, "b": 0}], executor="gpu"), ValueError, "executor"),
    (dict(fn=_toy, points=[]), ValueError, "points"),
    (dict(fn=lambda **kw: 3.0, points=[{"a": 1}], executor="serial"), TypeError, "dict of numbers"),
    (dict(fn=None, points=[{"a": 1}], batched=lambda pts: []), ValueError, "one result per point"),
    (dict(fn=None, points=[{"a": 1}], batched=lambda pts: [{"v": 1}], executor="serial"), ValueError, "needs fn"),
    (dict(fn=_toy, points=[{"a": object(), "b": 0}], cache_dir="unused"), TypeError, "parameter values"),
])
def test_bad_input_names_the_problem(kwargs, error, match, tmp_path):
    if kwargs.get("cache_dir"):
        kwargs["cache_dir"] = tmp_path
    with pytest.raises(error, match=match):
        sweep.run_sweep(progress=False, **kwargs)
