"""Property-based tests of the public loss and spectral functions (hypothesis).

Every drawn input either is rejected with ValueError/TypeError whose message names one of the function's arguments,
or is accepted and gives only finite numbers. The inputs mix array kinds (NumPy, torch, lists), dtypes (float16 to
float64, integers, bool, complex), shapes (empty, one row, mismatched), values (up to 1e8, NaN, inf) and scalar
arguments of every kind (negative, zero, subnormal, huge, NaN, Fraction, bool, string, tensors).
"""

from __future__ import annotations

import inspect
import math
from fractions import Fraction

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mmcl_core import losses, spectral  # noqa: E402

EXAMPLES = 360  # per function: 14 functions x 360 = 5,040 inputs

COUNTS: dict = {}


def rarely(draw, p: float) -> bool:
    """True with probability ``p`` (hypothesis draws small integers far more often than uniformly, so the rare branch
    is decided by a seeded NumPy draw)."""
    return bool(np.random.default_rng(draw(st.integers(0, 2**31 - 1))).random() < p)

FLOATS = ("float64", "float32", "float16", "bfloat16")
OTHER_DTYPES = ("int64", "bool", "complex64")
SCALES = (1e-3, 1.0, 1.0, 10.0, 1e4, 1e8)
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
                "bfloat16": torch.bfloat16, "int64": torch.int64, "bool": torch.bool, "complex64": torch.complex64}


@st.composite
def styles(draw, kinds=("torch", "numpy", "list")):
    """How the arrays of one call are made: usually one kind (the first of ``kinds``) and one float32/float64 dtype for
    all (valid); sometimes another kind, half precision, or each array its own kind and dtype."""
    kind = draw(st.sampled_from(kinds[1:])) if len(kinds) > 1 and rarely(draw, 0.15) else kinds[0]
    dtype = draw(st.sampled_from(FLOATS[2:])) if rarely(draw, 0.15) else draw(st.sampled_from(FLOATS[:2]))
    mixed = rarely(draw, 0.1)
    return {"kind": kind, "dtype": dtype, "mixed": mixed, "kinds": kinds}


def make_array(draw, style, shape, *, positive=False):
    """One array of ``shape`` in the call's style (or, for a mixed call, its own kind and any dtype)."""
    kind, dtype = style["kind"], style["dtype"]
    if style["mixed"]:
        kind = draw(st.sampled_from(style["kinds"]))
        dtype = draw(st.sampled_from(FLOATS + OTHER_DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    values = rng.normal(size=shape) * draw(st.sampled_from(SCALES))
    if positive:
        values = np.abs(values)
        if values.size and not rarely(draw, 0.25):
            values = values / values.sum()
    if values.size and rarely(draw, 0.05):
        values.flat[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    finite = bool(np.isfinite(values).all())
    if dtype == "bool":
        values = values > 0
    elif dtype == "int64" and finite:
        values = np.round(values).astype(np.int64)
    elif dtype == "complex64":
        values = values.astype(np.complex64)
    if kind == "list":
        return values.tolist()
    if kind == "numpy":
        return values.astype({"float64": np.float64, "float32": np.float32}.get(dtype, values.dtype))
    tdtype = TORCH_DTYPES[dtype] if finite or dtype not in ("int64", "bool") else torch.float32
    return torch.as_tensor(np.asarray(values)).to(tdtype)


ODD_SCALARS = (0.0, -1.0, 1e-45, 1e-300, 5e-324, 1e-8, 1e30, math.inf, -math.inf, math.nan, True, "0.1", None,
               Fraction(1, 10), np.float32(0.07), np.float16(0.07), 3)


@st.composite
def scalars(draw, low=1e-3):
    """Scalar arguments of every kind, mostly valid floats in [low, 100]; 0-d and 1-d tensors now and then."""
    if rarely(draw, 0.2):
        return draw(st.sampled_from(ODD_SCALARS))
    value = draw(st.floats(low, 100.0))
    if rarely(draw, 0.1):
        return torch.tensor(value) if rarely(draw, 0.5) else torch.tensor([value, value])
    return value


def sizes(draw, choices, rare=(0,)):
    return draw(st.sampled_from(rare)) if rarely(draw, 0.05) else draw(st.sampled_from(choices))


@st.composite
def pair_args(draw, batched=False, min_rows=1):
    n, k = sizes(draw, tuple(range(min_rows, 7))), sizes(draw, (1, 2, 4, 8))
    shape = (sizes(draw, (1, 2, 3)), n, k) if batched else (n, k)
    shape_b = tuple(d + 1 for d in shape) if rarely(draw, 0.1) else shape
    style = draw(styles(("torch", "numpy")))
    return [make_array(draw, style, shape), make_array(draw, style, shape_b)]


@st.composite
def linear_args(draw):
    n, d1, d2, r = sizes(draw, (2, 3, 5, 8)), sizes(draw, (1, 2, 4)), sizes(draw, (1, 2, 4)), sizes(draw, (1, 2, 3))
    wrong = rarely(draw, 0.1)
    style = draw(styles(("torch", "numpy")))
    return [make_array(draw, style, (n, d1)), make_array(draw, style, (n + wrong, d2)),
            make_array(draw, style, (r, d1)), make_array(draw, style, (r, d2))]


@st.composite
def xym_args(draw):
    n, d1, d2 = sizes(draw, (2, 3, 4, 6), (0, 1)), sizes(draw, (1, 2, 3)), sizes(draw, (1, 2, 3))
    style = draw(styles(("numpy", "torch", "list")))
    m_shape = (d2, d1 + 1) if rarely(draw, 0.1) else (d1, d2)
    return [make_array(draw, style, (n, d1)), make_array(draw, style, (n, d2)), make_array(draw, style, m_shape)]


@st.composite
def matrices(draw, rows, cols, positive=False):
    style = draw(styles(("numpy", "torch", "list")))
    return make_array(draw, style, (sizes(draw, rows), sizes(draw, cols)), positive=positive)


CASES = {
    "clip_loss": lambda d: (d.draw(pair_args()), {"temperature": d.draw(scalars())}),
    "siglip_loss": lambda d: (d.draw(pair_args()), {"scale": d.draw(scalars()), "bias": d.draw(scalars(-100.0))}),
    "nt_xent_loss": lambda d: (d.draw(pair_args()), {"temperature": d.draw(scalars())}),
    "clip_loss_batched": lambda d: (d.draw(pair_args(batched=True)), {"temperature": d.draw(scalars())}),
    "nt_xent_loss_batched": lambda d: (d.draw(pair_args(batched=True)), {"temperature": d.draw(scalars())}),
    "spectral_contrastive_loss": lambda d: (d.draw(pair_args(min_rows=2)), {}),
    "linear_mmcl_loss": lambda d: (d.draw(linear_args()), {"rho": d.draw(scalars(0.0))}),
    "normalized_cooccurrence": lambda d: ([d.draw(matrices((1, 3, 6), (1, 2, 5), positive=True))],
                                          {"atol": None if rarely(d.draw, 0.7) else d.draw(scalars())}),
    "cross_covariance": lambda d: (d.draw(xym_args())[:2], {}),
    "clip_weights": lambda d: (d.draw(xym_args()), {"temperature": d.draw(scalars())}),
    "contrastive_cross_covariance": lambda d: (d.draw(xym_args()), {"temperature": d.draw(scalars())}),
    "truncated_svd": lambda d: ([d.draw(matrices((1, 3, 5), (1, 3, 4)))],
                                {"rank": d.draw(st.integers(1, 3)) if not rarely(d.draw, 0.3) else d.draw(
                                    st.one_of(st.integers(-1, 5), scalars()))}),
    "principal_angles": lambda d: ([d.draw(matrices((5,), (1, 2, 6))), d.draw(matrices((5, 4), (1, 2)))], {}),
    "sin_theta_distance": lambda d: ([d.draw(matrices((5,), (2,))), d.draw(matrices((5,), (2, 3)))], {}),
}


def _finite(out) -> bool:
    if isinstance(out, tuple):
        return all(_finite(o) for o in out)
    if isinstance(out, torch.Tensor):
        return bool(torch.isfinite(out.detach()).all())
    return bool(np.isfinite(np.asarray(out, dtype=float)).all())


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_public_function_rejects_cleanly_or_returns_finite(name, data):
    fn = {**vars(losses), **vars(spectral)}[name]
    args, kwargs = CASES[name](data)
    params = inspect.signature(fn).parameters
    counts = COUNTS.setdefault(name, {"inputs": 0, "accepted": 0, "rejected": 0})
    counts["inputs"] += 1
    try:
        out = fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        counts["rejected"] += 1
        assert any(p in str(exc) for p in params), f"{name}: {type(exc).__name__} names no argument: {exc}"
        return
    counts["accepted"] += 1
    assert _finite(out), f"{name} accepted the input and returned non-finite values"


def test_fuzz_counts_cover_five_thousand_inputs():
    """Runs after the fuzz tests (file order): the drawn inputs, the accepted and the rejected."""
    if len(COUNTS) < len(CASES):
        pytest.skip("run with the fuzz tests above (not selected on their own)")
    total = sum(c["inputs"] for c in COUNTS.values())
    print({k: (v["accepted"], v["rejected"]) for k, v in sorted(COUNTS.items())}, "total", total)
    assert total >= 5000
    # most drawn inputs are valid (so the finiteness check has something to check), and every function rejects some
    assert all(c["accepted"] >= 0.3 * c["inputs"] and c["rejected"] > 0 for c in COUNTS.values()), COUNTS
