"""Parameter sweeps: a grid x seeds, run batched, through any executor (a process pool, Dask), cached and resumable.

A *point* is one parameter dict plus a seed. The experiment is a plain function ``fn(**params, seed=s) -> dict`` of
numbers (scalars or arrays); a *batched* experiment ``batched(points) -> list[dict]`` computes many points in one
vectorised call. :func:`run_sweep` computes only the points missing from the on-disk cache and returns a tidy
:class:`SweepTable` (one row per point; parameters, seed and results as columns) that figures and widgets read.

Cache: one file per point, ``<cache_dir>/<name>-<key>.json`` (scalars) or ``.npz`` (arrays), where ``key`` hashes the
function's name, a version string, the parameters and the seed. Files are written atomically (a temporary file, then
``os.replace``) and carry the request they answer (name, version, parameters, seed) and a checksum of their payload
(names, dtypes, shapes and bytes of the results). An entry is used only when the request it carries equals the one being
computed and its checksum holds: a partial, corrupted, renamed or copied entry is recomputed. JSON entries are strict
JSON (non-finite results go to NPZ). Interrupting a sweep and running it again computes only the missing points.
Worker processes of the ``"process"`` executor exit on their own when the sweeping process dies (even ``kill -9``).

Executors: ``"serial"`` (in this process), ``"process"`` (a local :class:`concurrent.futures.ProcessPoolExecutor`),
any :class:`concurrent.futures.Executor`, or a ``dask.distributed.Client``: :func:`dask_client` gives one that is
safe by default (a local cluster listening on 127.0.0.1 only, or a remote scheduler over TLS). Dask's workers run
whatever a client sends them, so a scheduler reachable without TLS from other machines lets anyone who can reach it run
code there. The workers need this package installed; the experiment function must be importable by them (a
module-level function, not a lambda).
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import itertools
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ._checks import check_int

__all__ = ["SweepTable", "dask_client", "default_cache_dir", "grid", "point_key", "run_sweep"]


def default_cache_dir() -> Path:
    """``$MMCL_CACHE_DIR/sweeps``, else ``~/.cache/mmcl/sweeps`` (the text tower's cache lives beside it)."""
    root = os.environ.get("MMCL_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "mmcl") / "sweeps"


def grid(**axes: Iterable) -> list[dict]:
    """The Cartesian product of the axes, in order (the last axis varies fastest).

    Example: ``grid(a=(1, 2), b=("x",))`` is ``[{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]``.
    """
    if not axes:
        raise ValueError("grid needs at least one axis")
    names = list(axes)
    values = []
    for name in names:
        v = list(axes[name]) if not isinstance(axes[name], (str, bytes)) else None
        if not v:
            raise ValueError(f"axis {name!r} must be a non-empty sequence of values, got {axes[name]!r}")
        values.append(v)
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    raise TypeError(f"parameter values must be numbers, strings, None or lists of them, got {type(value).__name__}")


def point_key(name: str, version: str, params: dict, seed: int) -> str:
    """SHA-256 (hex, 24 characters) of the function name, the version, the parameters and the seed."""
    blob = json.dumps({"name": name, "version": version, "params": _jsonable(params), "seed": int(seed)},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _checksum(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _array_hash(result: dict) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of a result's arrays (the checksum of an NPZ entry)."""
    sha = hashlib.sha256()
    for k in sorted(result):
        arr = np.ascontiguousarray(result[k])
        sha.update(k.encode() + b"\x00" + arr.dtype.str.encode() + str(arr.shape).encode() + arr.tobytes())
    return sha.hexdigest()


def _request(name: str, version: str, params: dict, seed: int) -> dict:
    """What an entry answers; stored in it and compared on every read."""
    return {"name": name, "version": version, "params": _jsonable(params), "seed": int(seed)}


def _no_constants(token: str):
    raise ValueError(f"non-standard JSON constant {token}")


def _check_result(result: Any) -> dict:
    if not isinstance(result, dict) or not result:
        raise TypeError(f"a sweep function must return a non-empty dict of numbers, got {type(result).__name__}")
    out = {}
    for k, v in result.items():
        if not isinstance(k, str):
            raise TypeError(f"result keys must be strings, got {k!r}")
        arr = np.asarray(v)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"result {k!r} must be numeric, got dtype {arr.dtype}")
        out[k] = arr
    return out


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save(base: Path, request: dict, result: dict) -> Path:
    """Write one point: JSON when every value is a finite scalar, else NPZ; both carry the request and a checksum."""
    import io

    scalars = all(v.ndim == 0 and np.isfinite(v) for v in result.values())
    if scalars:
        body = json.dumps({k: v.item() for k, v in result.items()}, sort_keys=True, allow_nan=False)
        doc = {"request": request, "result": json.loads(body), "sha256": _checksum(body.encode())}
        path = base.with_suffix(".json")
        _write_atomic(path, json.dumps(doc, sort_keys=True, allow_nan=False).encode())
        base.with_suffix(".npz").unlink(missing_ok=True)
    else:
        meta = json.dumps({"request": request, "sha256": _array_hash(result)}, allow_nan=False)
        buf = io.BytesIO()
        np.savez(buf, __meta__=np.array(meta), **{f"r_{k}": v for k, v in result.items()})
        path = base.with_suffix(".npz")
        _write_atomic(path, buf.getvalue())
        base.with_suffix(".json").unlink(missing_ok=True)
    return path


def _load(base: Path, request: dict) -> dict | None:
    """The cached result of ``request``, or None when absent, truncated, corrupted, failing its checksum, or an
    entry of another request (a renamed or copied file)."""
    path = base.with_suffix(".json")
    if path.is_file():
        try:
            doc = json.loads(path.read_text(), parse_constant=_no_constants)
            body = json.dumps(doc["result"], sort_keys=True, allow_nan=False)
            if doc["request"] != request or _checksum(body.encode()) != doc["sha256"] or not doc["result"]:
                return None
            result = {k: np.asarray(v) for k, v in doc["result"].items()}
            return result if all(v.dtype.kind in "biuf" and v.ndim == 0 for v in result.values()) else None
        except (ValueError, KeyError, TypeError, OSError, AttributeError):
            return None
    path = base.with_suffix(".npz")
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["__meta__"]), parse_constant=_no_constants)
                result = {k[2:]: z[k] for k in z.files if k.startswith("r_")}
            ok = meta["request"] == request and result and _array_hash(result) == meta["sha256"]
            return result if ok else None
        except Exception:  # noqa: BLE001 - a truncated zip raises one of many types: treat all as a cache miss
            return None
    return None


class SweepTable:
    """A tidy table: one row per point; columns are the parameters, ``seed`` and the results.

    Attributes:
        columns: dict column -> 1-D NumPy array (scalar results) or (rows, ...) array (array results).
        computed: points computed by the call that built the table; ``cached``: points read from the cache.
        seconds: wall time of that call.
    """

    def __init__(self, rows: list[dict], param_names: Iterable[str] = (), computed: int = 0, cached: int = 0,
                 seconds: float = 0.0):
        if not rows:
            raise ValueError("a SweepTable needs at least one row")
        self.rows = rows
        self.columns = {k: np.asarray([r[k] for r in rows]) for k in rows[0]}
        self.param_names = tuple(param_names)
        self.computed, self.cached, self.seconds = computed, cached, seconds

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return (f"SweepTable({len(self)} rows, columns {list(self.columns)}; computed {self.computed}, "
                f"cached {self.cached})")

    def where(self, **conditions) -> "SweepTable":
        """Rows whose columns equal the given values."""
        unknown = set(conditions) - set(self.columns)
        if unknown:
            raise ValueError(f"conditions must name columns among {sorted(self.columns)}, got {sorted(unknown)}")
        keep = [r for r in self.rows if all(r[k] == v for k, v in conditions.items())]
        if not keep:
            raise ValueError(f"no row matches {conditions}")
        return SweepTable(keep, self.param_names, self.computed, self.cached, self.seconds)

    def mean_over_seeds(self, column: str) -> dict:
        """Mean of ``column`` per parameter combination: dict (parameter values tuple) -> mean."""
        if column not in self.columns:
            raise ValueError(f"column must be one of {sorted(self.columns)}, got {column!r}")
        groups: dict = {}
        for r in self.rows:
            key = tuple(json.dumps(_jsonable(r[k])) if isinstance(r[k], list) else r[k] for k in self.param_names)
            groups.setdefault(key, []).append(np.asarray(r[column], dtype=float))
        return {k: np.mean(v, axis=0) for k, v in groups.items()}


def dask_client(address: str | None = None, *, security=None, n_workers: int = 2, threads_per_worker: int = 1):
    """A ``dask.distributed.Client`` for :func:`run_sweep`, safe by default.

    Args:
        address: None for a local cluster of ``n_workers`` processes listening on 127.0.0.1 only (no dashboard);
            else a scheduler address, which must be ``tls://HOST:PORT`` with ``security`` (a
            ``distributed.security.Security`` holding the CA, certificate and key), or a loopback ``tcp://`` address
            (e.g. the local end of an SSH tunnel: ``ssh -L 8786:localhost:8786 HOST``).
        security: TLS settings for a ``tls://`` address.
        n_workers, threads_per_worker: size of the local cluster.

    Raises:
        ValueError: ``address`` is a plain-TCP scheduler on another machine, or ``tls://`` without ``security``.
    """
    from urllib.parse import urlsplit

    from distributed import Client, LocalCluster

    if address is None:
        cluster = LocalCluster(n_workers=check_int("n_workers", n_workers, low=1), host="127.0.0.1",
                               threads_per_worker=check_int("threads_per_worker", threads_per_worker, low=1),
                               processes=True, dashboard_address=None)
        return Client(cluster)
    if not isinstance(address, str):
        raise TypeError(f"address must be a scheduler address string or None, got {type(address).__name__}")
    parts = urlsplit(address)
    if parts.scheme == "tls":
        if security is None:
            raise ValueError("address: a tls:// scheduler needs security=Security(tls_ca_file=..., "
                             "tls_client_cert=..., tls_client_key=..., require_encryption=True)")
        return Client(address, security=security)
    if parts.scheme == "tcp" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return Client(address)
    raise ValueError(f"address must be tls://HOST:PORT (with security=) or a loopback tcp:// address (an SSH "
                     f"tunnel); got {address!r}: a plain-TCP scheduler on the network runs code for anyone who "
                     "reaches it")


def _spawn():
    """Fresh worker processes: forking a process whose torch/OpenMP threads are running can deadlock."""
    import multiprocessing

    return multiprocessing.get_context("spawn")


def _exit_with_parent(parent_pid: int, poll_seconds: float = 0.5) -> None:
    """Worker initializer: a daemon thread ends this worker as soon as the process that started it is gone.

    A pool's own shutdown never runs when its parent is killed (``kill -9``); without this the workers (and, through
    them, multiprocessing's resource tracker) would stay alive, orphaned.
    """
    import threading

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(poll_seconds)

    threading.Thread(target=watch, name="mmcl-parent-watch", daemon=True).start()


def _call(fn: Callable, params: dict, seed: int) -> dict:
    return fn(**params, seed=seed)


def _checked_sweep(fn, points, seeds, batched, executor, name) -> tuple:
    """:func:`run_sweep`'s arguments checked: (seeds, executor, cache name)."""
    if fn is None and batched is None:
        raise ValueError("give fn, batched, or both")
    if fn is not None and not callable(fn):
        raise TypeError("fn must be callable")
    if batched is not None and not callable(batched):
        raise TypeError("batched must be callable")
    if not isinstance(points, (list, tuple)) or not points or not all(isinstance(p, dict) for p in points):
        raise ValueError("points must be a non-empty list of parameter dicts")
    if any("seed" in p for p in points):
        raise ValueError("points must not contain 'seed'; pass seeds=")
    seeds = [check_int("seed", s, low=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must be non-empty")
    if executor is None:
        executor = "batched" if batched is not None else "process"
    if executor == "batched" and batched is None:
        raise ValueError("executor='batched' needs batched=")
    if executor != "batched" and fn is None:
        raise ValueError(f"executor={executor!r} needs fn=")
    if isinstance(executor, str) and executor not in ("batched", "serial", "process"):
        raise ValueError(f"executor must be 'batched', 'serial', 'process', an Executor or a dask Client, "
                         f"got {executor!r}")
    if name is None:
        target = fn if fn is not None else batched
        while hasattr(target, "func"):  # functools.partial: name the wrapped function
            target = target.func
        name = f"{target.__module__}.{getattr(target, '__qualname__', type(target).__name__)}"
    return seeds, executor, name


def _compute(todo: list, store, fn, batched, executor, max_workers) -> None:
    """Compute the missing ``(index, point, seed, cache base)`` entries with the executor, ``store``-ing each."""
    if executor == "batched":
        outs = batched([{**p, "seed": s} for _, p, s, _ in todo])
        if not isinstance(outs, (list, tuple)) or len(outs) != len(todo):
            raise ValueError(f"batched must return one result per point ({len(todo)}), got "
                             f"{type(outs).__name__} of length {len(outs) if hasattr(outs, '__len__') else '?'}")
        for (i, p, s, base), out in zip(todo, outs):
            store(i, p, s, base, out)
        return
    if executor == "serial":
        for i, p, s, base in todo:
            store(i, p, s, base, _call(fn, p, s))
        return
    own = executor == "process"
    pool = (cf.ProcessPoolExecutor(max_workers=max_workers or os.cpu_count(), mp_context=_spawn(),
                                   initializer=_exit_with_parent, initargs=(os.getpid(),)) if own else
            executor.get_executor() if hasattr(executor, "get_executor") else executor)
    if not hasattr(pool, "submit"):
        raise TypeError(f"executor must have submit(), got {type(executor).__name__}")
    try:
        futures = {pool.submit(_call, fn, p, s): (i, p, s, base) for i, p, s, base in todo}
        for fut in cf.as_completed(futures):
            store(*futures[fut], fut.result())
    finally:
        if own:
            pool.shutdown(wait=False, cancel_futures=True)


def run_sweep(fn: Callable[..., dict] | None, points: list[dict], *, seeds: Iterable[int] = (0,),
              batched: Callable[[list[dict]], list[dict]] | None = None, executor: Any = None,
              cache_dir: str | os.PathLike | None = None, name: str | None = None, version: str = "1",
              max_workers: int | None = None, progress: bool = True) -> SweepTable:
    """Compute ``fn(**point, seed=s)`` for every point and seed, reading what the cache already holds.

    Args:
        fn: the experiment, a module-level function returning a dict of numbers (None if only ``batched``).
        points: parameter dicts (e.g. from :func:`grid`).
        seeds: seeds of every point.
        batched: optional vectorised form: ``batched(list of {**point, "seed": s}) -> list of result dicts``, one
            call for all missing points.
        executor: ``None`` (``batched`` if given, else ``"process"``), ``"batched"``, ``"serial"``, ``"process"``,
            a :class:`concurrent.futures.Executor`, or a ``dask.distributed.Client``.
        cache_dir: directory of the cache (None: no cache, everything is computed).
        name: the cache's name for the experiment (default: ``fn``'s module and qualified name; the keywords of a
            ``functools.partial`` are not part of the key, so put what changes results in the points).
        version: bump it when the experiment's code changes, so old entries are not reused.
        max_workers: processes of the ``"process"`` executor (default: the machine's cores).
        progress: show a tqdm progress bar over the points.

    Returns:
        :class:`SweepTable` with one row per (point, seed), in the order of ``points`` then ``seeds``.
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    seeds, executor, name = _checked_sweep(fn, points, seeds, batched, executor, name)
    cache = Path(cache_dir) if cache_dir is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    stem = name.rsplit(".", 1)[-1]
    todo, results = [], {}
    for i, (p, s) in enumerate((p, s) for p in points for s in seeds):
        base = cache / f"{stem}-{point_key(name, version, p, s)}" if cache is not None else None
        hit = _load(base, _request(name, version, p, s)) if base is not None else None
        if hit is not None:
            results[i] = hit
        else:
            todo.append((i, p, s, base))
    cached = len(results)
    bar = tqdm(total=len(todo), desc=stem, disable=not progress or not todo)

    def store(i, p, s, base, result):
        result = _check_result(result)
        if base is not None:
            _save(base, _request(name, version, p, s), result)
        results[i] = result
        bar.update(1)

    try:
        if todo:  # else everything came from the cache
            _compute(todo, store, fn, batched, executor, max_workers)
    finally:
        bar.close()
    rows = []
    for i, (p, s) in enumerate((p, s) for p in points for s in seeds):
        rows.append({**p, "seed": s, **{k: (v.item() if v.ndim == 0 else v) for k, v in results[i].items()}})
    return SweepTable(rows, tuple(points[0]), computed=len(todo), cached=cached, seconds=time.perf_counter() - start)
