"""Zhang, Wang & Wang (ICML 2023), Table 1 on a digits proxy: CLIP-guided resampling for SimCLR with a
caption-trained teacher, its ablations, the widget's grid, and what predicts the gain.

Re-exported by :mod:`mmcl_core.experiments.zhang2023`; the losses are :func:`mmcl_core.losses.resampled_nt_xent`. The
project's notes: docs/papers/zhang2023.md, "The experiment".
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int, check_real

__all__ = ["TEACHERS", "PAPER_TABLE1", "make_teacher", "resampling_run", "resampling_runs", "resampling_table",
           "resampling_grid", "resampling_key", "resampling_lookup", "resampling_menu",
           "resampling_lookup_run"]


TEACHERS = ("clip", "clip_rich", "clip_no_aug", "caption", "oracle")


def make_teacher(kind: str, pairs: dict, *, seed: int = 0, epochs: int = 20, device: str = "auto"):
    """A teacher similarity for the augmented views of a batch.

    Args:
        kind: "clip" (image tower of a CLIP-style model trained on the training digit-caption pairs with the
            SimCLR augmentations, applied to the same augmented views, as the paper applies CLIP), "clip_rich" (the
            same, trained on richer captions: level 2, each naming the digit's measured thickness, slant and size,
            :func:`mmcl_core.experiments.real_data.recaption`), "clip_no_aug"
            (the same teacher trained on clean images only: it is not robust to the views it sees),
            "caption" (cosine of the views' caption embeddings) or "oracle" (same label, ties broken by a fixed
            tiny per-image jitter).
        pairs: output of :func:`mmcl_core.experiments.real_data.digit_pairs`.

    Returns:
        ``teacher(views_1, views_2, idx) -> (2b, 2b)`` similarity tensor; the CLIP-style kinds also carry the
        trained ``teacher.image_tower``.
    """
    import torch
    import torch.nn.functional as F

    from ..device import get_device
    from .real_data import recaption, train_clip_towers

    if kind not in TEACHERS:
        raise ValueError(f"kind must be one of {TEACHERS}, got {kind!r}")
    dev = get_device(device)
    tr = pairs["train"]
    if kind in ("clip", "clip_rich", "clip_no_aug"):
        source = recaption(pairs, 2, seed=seed + 2000) if kind == "clip_rich" else pairs
        tower, _, _ = train_clip_towers(source, epochs=epochs, augment=kind != "clip_no_aug", seed=seed + 1000,
                                        device=dev)
        tower.requires_grad_(False)

        def teacher(v1, v2, idx):
            with torch.no_grad():
                e = F.normalize(tower(torch.cat([v1, v2])), dim=1)
            return e @ e.T
        teacher.image_tower = tower  # the caption-trained encoder itself, for probing
        return teacher
    if kind == "caption":
        table = torch.as_tensor(tr["text"], dtype=torch.float32, device=dev)
    else:
        jitter = np.random.default_rng(seed).standard_normal((len(tr["labels"]), 10)) * 1e-3
        table = torch.as_tensor(np.eye(10)[tr["labels"]] + jitter, dtype=torch.float32, device=dev)

    def teacher(v1, v2, idx):
        e = F.normalize(table[idx], dim=1)
        e = torch.cat([e, e])
        return e @ e.T
    return teacher


def resampling_run(method: str = "simclr", teacher: str = "clip", *, background_strength: float = 0.5,
                   epochs: int = 30, batch_size: int = 256, temperature: float = 0.2, ratio: float | None = None,
                   top_k: int = 1, new_positive_weight: float = 0.5, as_released: bool = True, seed: int = 0,
                   pairs: dict | None = None, teacher_fn=None, backbone: bool = False, device: str = "auto") -> dict:
    """SimCLR on nuisance digits with one resampling method; linear-probe accuracy of the encoder.

    Reproduces: Zhang et al. 2023, Table 1 (relative trends on a digits proxy). One run of
    :func:`resampling_runs`, which trains several methods side by side.

    Args:
        method: one of :data:`mmcl_core.losses.RESAMPLING_METHODS`.
        teacher: one of ``TEACHERS`` (ignored for "simclr").
        background_strength: intensity of the class-independent background nuisance.
        epochs, batch_size, temperature: SimCLR schedule (batch of 2 x batch_size views); a teacher trained here
            keeps :func:`make_teacher`'s own schedule (20 epochs).
        ratio, top_k, new_positive_weight, as_released: method options (official defaults when None).
        seed: seed of the split, captions, teacher and student.
        pairs, teacher_fn: precomputed data / teacher to reuse across runs.
        backbone: also probe the hidden layer (the released evaluation probes the backbone, before the projection
            head), as ``backbone_probe``; about 0.6 s more per run.

    Returns:
        dict with ``linear_probe``, ``knn``, ``same_label_rate`` (label agreement of the teacher's top-1 pick
        among other images of the batch; add_new_positive only, else nan), ``self_same_label_rate`` (the same
        for the student's own most similar other view: the positive SimCLR itself would pick; simclr only, else nan),
        ``seconds``.
    """
    teachers = {teacher: teacher_fn} if teacher_fn is not None else None
    return resampling_runs([(method, teacher, ratio, top_k, as_released)], background_strength=background_strength,
                           epochs=epochs, batch_size=batch_size, temperature=temperature,
                           new_positive_weight=new_positive_weight, seed=seed, pairs=pairs, teachers=teachers,
                           backbone=backbone, device=device)[0]


def _check_run_spec(spec, batch_size: int) -> tuple:
    from ..losses import RESAMPLING_METHODS as METHODS
    from ..losses import RESAMPLING_RATIOS as DEFAULT_RATIOS

    if not isinstance(spec, (tuple, list)) or len(spec) != 5:
        raise ValueError(f"each run must be (method, teacher, ratio, top_k, as_released), got {spec!r}")
    method, teacher, ratio, top_k, as_released = spec
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method != "simclr" and teacher not in TEACHERS:
        raise ValueError(f"teacher must be one of {TEACHERS}, got {teacher!r}")
    drop_ratio = DEFAULT_RATIOS.get(method) if ratio is None else ratio
    if method in DEFAULT_RATIOS and int(check_real("ratio", drop_ratio, low=0.0, high=1.0) * 2 * batch_size) < 1:
        raise ValueError(f"batch_size {batch_size} is too small for {method} at ratio {drop_ratio:g}: 2 x batch_size "
                         f"x ratio must be >= 1 view (the released code raises IndexError here)")
    return method, teacher, ratio, check_int("top_k", top_k, low=1), bool(as_released)


def resampling_runs(runs, *, background_strength: float = 0.5, epochs: int = 30, batch_size: int = 256,
                    temperature: float = 0.2, new_positive_weight: float = 0.5, seed: int = 0,
                    pairs: dict | None = None, teachers: dict | None = None, backbone: bool = False,
                    device: str = "auto") -> list:
    """Several resampling runs on one seed's data, their students trained side by side.

    Every student starts from the same initialisation and sees the same batches and augmented views (as separate
    :func:`resampling_run` calls with this seed would); they are trained as one batched program
    (:func:`mmcl_core.train.train_simclr_shared_views`), so the views are drawn and each teacher is evaluated once
    per step for all of them.

    Args:
        runs: list of ``(method, teacher, ratio, top_k, as_released)`` (``ratio=None``: the official default).
        teachers: name -> teacher function (:func:`make_teacher`) to reuse; missing ones are trained.
        the rest: as :func:`resampling_run`.

    Returns:
        one result dict per run, as :func:`resampling_run` returns (``seconds`` is the whole batch's training time).
    """
    from ..models import make_tower
    from ..train import train_simclr_shared_views
    from .real_data import digit_pairs, evaluate_tower

    batch_size = check_int("batch_size", batch_size, low=2)
    specs = [_check_run_spec(spec, batch_size) for spec in runs]
    if not specs:
        raise ValueError("runs must hold at least one (method, teacher, ratio, top_k, as_released)")
    pairs = pairs if pairs is not None else digit_pairs(background_strength=background_strength, seed=seed)
    teachers = dict(teachers or {})
    for method, name, *_ in specs:
        if method != "simclr" and teachers.get(name) is None:
            teachers[name] = make_teacher(name, pairs, seed=seed, device=device)
    tr = pairs["train"]
    pair_loss, records = _recorded_pair_loss(specs, teachers, tr, temperature, new_positive_weight)
    in_dim = int(np.prod(tr["images"].shape[1:]))
    towers = [make_tower(in_dim, 64, seed=seed, device=device) for _ in specs]
    trained = train_simclr_shared_views(towers, tr["images"], pair_loss=pair_loss, epochs=epochs,
                                        batch_size=batch_size, temperature=temperature, seed=seed, device=device)
    results = []
    for tower, record in zip(towers, records):
        hidden = (evaluate_tower(tower.net[:-1], pairs, device=device)["linear_probe"] if backbone  # before the map
                  else float("nan"))
        rates = {key: float(np.mean(values)) if values else float("nan") for key, values in record.items()}
        results.append({**evaluate_tower(tower, pairs, device=device), "backbone_probe": hidden, **rates,
                        "seconds": trained["seconds"], "students_trained_together": len(specs)})
    return results


def _recorded_pair_loss(specs: list, teachers: dict, train: dict, temperature: float, new_positive_weight: float):
    """The batched loss of :func:`resampling_runs` and the per-step diagnostics it records for each student:
    ``same_label_rate`` and ``new_background_rate`` of the teacher's picks, ``self_same_label_rate`` of a SimCLR
    student's own top-1."""
    import torch

    from ..losses import resampled_nt_xent

    labels_t = torch.as_tensor(train["labels"])
    backgrounds_t = torch.as_tensor(train["background_ids"]) if train.get("background_ids") is not None else None
    records = [{"same_label_rate": [], "new_background_rate": [], "self_same_label_rate": []} for _ in specs]
    baselines = [m for m, spec in enumerate(specs) if spec[0] == "simclr"]

    def pair_loss(z1, z2, v1, v2, idx):
        lab = labels_t[idx.cpu()].repeat(2)
        bg = backgrounds_t[idx.cpu()].repeat(2) if backgrounds_t is not None else None
        with torch.no_grad():  # each SimCLR student's own top-1 among other images of the batch
            zz = torch.nn.functional.normalize(torch.cat([z1[baselines], z2[baselines]], dim=1), dim=2)
            sim = zz @ zz.transpose(1, 2)  # (baselines, 2b, 2b)
            ar = torch.arange(sim.shape[1], device=sim.device)
            sim[:, ar, ar] = -2.0
            sim[:, ar, (ar + sim.shape[1] // 2) % sim.shape[1]] = -2.0
            for m, hit in zip(baselines, (lab[sim.argmax(2).cpu()] == lab).float().mean(1).tolist()):
                records[m]["self_same_label_rate"].append(hit)
        sims, losses = {}, []  # each teacher once per step
        for m, (method, name, ratio, top_k, released) in enumerate(specs):
            if method != "simclr" and name not in sims:
                sims[name] = teachers[name](v1, v2, idx)
            loss, info = resampled_nt_xent(z1[m], z2[m], sims.get(name) if method != "simclr" else None, method,
                                           temperature=temperature, ratio=ratio, top_k=top_k,
                                           new_positive_weight=new_positive_weight, as_released=released)
            if "picked" in info:
                picked = info["picked"][:, 0].cpu()
                same = lab[picked] == lab
                records[m]["same_label_rate"].append(float(same.float().mean()))
                if bg is not None:  # a right pick on another background: a positive augmentations never make
                    records[m]["new_background_rate"].append(float((same & (bg[picked] != bg)).float().mean()))
            losses.append(loss)
        return torch.stack(losses)

    return pair_loss, records


PAPER_TABLE1 = {"simclr": 61.2, "add_new_positive": 67.4, "drop_false_positive": 61.8, "drop_false_negative": 61.4,
                "drop_easy_negative": 62.3}  # ImageNet-100 linear-probe top-1 (%), official README


def resampling_table(seeds=(0, 1, 2), *, teacher: str = "clip", background_strength: float = 0.8, epochs: int = 30,
                     ablation_teachers=("clip_no_aug", "caption", "oracle"), device: str = "auto",
                     progress: bool = False,
                     **run_kwargs) -> dict:
    """Table-1 proxy: every method (and DropFalsePositive both ways) over seeds, teacher ablations for
    AddNewPositive, the MMCL encoder's own probe, and the label agreement of picked positives.

    Returns:
        dict with ``runs`` (row name -> list of per-seed result dicts), ``row_keys`` (row name -> its
        :func:`resampling_key`), ``summary`` (row name -> mean and std of the linear probe in %), ``same_label``
        (teacher -> mean agreement of its top-1 picks, and "simclr (own picks)" for the baseline student's own
        most similar other image), ``mmcl_probe`` (per-seed probe of the CLIP-style image tower trained on the
        same nuisance digits without augmentation: the ``clip_no_aug`` teacher), ``seeds``, ``settings``.
    """
    from tqdm.auto import tqdm

    from ..losses import RESAMPLING_METHODS as METHODS
    from .real_data import digit_pairs, evaluate_tower

    specs = {method: (method, teacher, None, 1, True) for method in METHODS}  # table row -> run
    specs["drop_false_positive (as intended)"] = ("drop_false_positive", teacher, None, 1, False)
    specs.update({f"add_new_positive (teacher: {name})": ("add_new_positive", name, None, 1, True)
                  for name in ablation_teachers})
    rows: dict[str, list] = {}
    teacher_probe, first_teachers = {}, {}
    for seed in tqdm(list(seeds), desc="resampling seeds", disable=not progress):
        pairs = digit_pairs(background_strength=background_strength, seed=seed)
        teachers = {name: make_teacher(name, pairs, seed=seed, device=device)
                    for name in sorted({teacher, "clip_no_aug", *ablation_teachers})}
        first_teachers = first_teachers or teachers
        results = resampling_runs(list(specs.values()), background_strength=background_strength, epochs=epochs,
                                  seed=seed, pairs=pairs, teachers=teachers, device=device, **run_kwargs)
        for row, result in zip(specs, results):  # all students of a seed trained side by side
            rows.setdefault(row, []).append(result)
        for name, fn in teachers.items():  # how well each image teacher itself classifies (a probe on its tower)
            if hasattr(fn, "image_tower"):
                teacher_probe.setdefault(name, []).append(
                    evaluate_tower(fn.image_tower, pairs, device=device)["linear_probe"])
    summary = {name: {"mean": 100 * float(np.mean([r["linear_probe"] for r in runs])),
                      "std": 100 * float(np.std([r["linear_probe"] for r in runs], ddof=1)) if len(runs) > 1 else 0.0}
               for name, runs in rows.items()}
    same_label = {name: float(np.mean([r["same_label_rate"] for r in rows[key]]))
                  for name, key in [(teacher, "add_new_positive")] + [(t, f"add_new_positive (teacher: {t})")
                                                                      for t in ablation_teachers]}
    same_label["simclr (own picks)"] = float(np.mean([r["self_same_label_rate"] for r in rows["simclr"]]))
    row_keys = {row: resampling_key(method, name, background_strength, ratio, top_k, released)
                for row, (method, name, ratio, top_k, released) in specs.items()}
    return {"runs": rows, "row_keys": row_keys, "summary": summary, "same_label": same_label,
            "mmcl_probe": teacher_probe["clip_no_aug"], "teacher_probe": teacher_probe, "teacher": teacher,
            "first_seed_teachers": first_teachers,
            "ablation_teachers": tuple(ablation_teachers), "seeds": list(seeds),
            "background_strength": background_strength,
            "settings": {"epochs": epochs, **run_kwargs}}


def resampling_grid(background_strengths=(0.4, 0.8), *, seed: int = 0, epochs: int = 30, device: str = "auto",
                    reuse: dict | None = None, progress: bool = False, teacher: str = "clip", **run_kwargs) -> dict:
    """Precomputed single-seed runs over the widget's choices, so the widget never trains.

    Grid per nuisance strength: the baseline; DropFalseNegative and DropEasyNegative at two ratios and
    DropFalsePositive as released and as intended, all with ``teacher``; AddNewPositive for each teacher at top-k 1
    and 3.
    ``run_kwargs`` (e.g. ``temperature``, ``batch_size``) go to every run. ``reuse``: a
    :func:`resampling_table` result whose first seed's runs fill the grid where seed, strength and settings
    match, instead of being trained again.

    Returns:
        dict mapping a key string (see :func:`resampling_key`) to the run's result dict.
    """
    from tqdm.auto import tqdm

    from .real_data import digit_pairs

    grid = {}
    reusable = reuse is not None and reuse["seeds"][0] == seed and reuse["settings"] == {"epochs": epochs, **run_kwargs}
    if reusable:
        grid.update({key: reuse["runs"][row][0] for row, key in reuse["row_keys"].items()})
    for strength in tqdm(list(background_strengths), desc="resampling grid", disable=not progress):
        pairs = digit_pairs(background_strength=strength, seed=seed)
        trained = (reuse.get("first_seed_teachers", {}) if reusable and strength == reuse.get("background_strength")
                   else {})  # the table's own seed-0 teachers: same data, same seed
        teachers = {name: trained.get(name) or make_teacher(name, pairs, seed=seed, device=device)
                    for name in TEACHERS}
        specs = [("simclr", teacher, None, 1, True)]
        specs += [(m, teacher, r, 1, True) for m, rs in (("drop_false_negative", (0.05, 0.2)),
                                                         ("drop_easy_negative", (0.1, 0.3))) for r in rs]
        specs += [("drop_false_positive", teacher, 0.1, 1, released) for released in (True, False)]
        specs += [("add_new_positive", t, None, k, True) for t in TEACHERS for k in (1, 3)]
        todo = {resampling_key(*spec[:2], strength, *spec[2:]): spec for spec in specs}
        todo = {key: spec for key, spec in todo.items() if key not in grid}  # not already run by the table
        if todo:
            grid.update(zip(todo, resampling_runs(list(todo.values()), background_strength=strength, epochs=epochs,
                                                  seed=seed, pairs=pairs, teachers=teachers, device=device,
                                                  **run_kwargs)))
    return grid


def resampling_key(method: str, teacher: str, background_strength: float, ratio, top_k: int, as_released: bool) -> str:
    """The grid key of one run; options that do not apply to ``method`` are normalised away and a drop
    method's ``ratio=None`` means its official default."""
    from ..losses import RESAMPLING_RATIOS as DEFAULT_RATIOS

    if method in DEFAULT_RATIOS and ratio is None:
        ratio = DEFAULT_RATIOS[method]
    if method == "simclr":
        teacher, ratio, top_k, as_released = "-", None, 1, True
    elif method == "add_new_positive":
        ratio, as_released = None, True
    else:
        top_k = 1
        if method != "drop_false_positive":
            as_released = True
    return f"{method}|{teacher}|{background_strength:g}|{ratio}|{top_k}|{as_released}"


def resampling_lookup(grid: dict, method: str = "add_new_positive", teacher: str = "clip",
                      background_strength: float = 0.8, ratio=None, top_k: int = 1, as_released: bool = True) -> dict:
    """Read one run and its baseline from a :func:`resampling_grid` (no training).

    Returns:
        dict with ``method`` and ``baseline`` result dicts, ``gain`` (probe points), ``label``.

    Raises:
        ValueError: the combination is not in the grid (names the available options).
    """
    key = resampling_key(method, teacher, background_strength, ratio, top_k, as_released)
    base_key = resampling_key("simclr", teacher, background_strength, None, 1, True)
    if key not in grid or base_key not in grid:
        options = sorted(k for k in grid if k.startswith(method + "|"))
        raise ValueError(f"this combination was not precomputed ({key}); available for {method}: {options}")
    run, base = grid[key], grid[base_key]
    return {"method": run, "baseline": base, "gain": 100 * (run["linear_probe"] - base["linear_probe"]),
            "label": key}


_METHOD_NAMES = {"add_new_positive": "AddNewPositive", "drop_false_negative": "DropFalseNegative",
                 "drop_easy_negative": "DropEasyNegative", "drop_false_positive": "DropFalsePositive"}


def resampling_menu(grid: dict) -> list:
    """The runs a :func:`resampling_grid` holds (besides the baseline), as menu options: ``(label, run)`` with
    ``run = (method, teacher, ratio, top_k, as_released)`` for :func:`resampling_lookup_run`. Only computed
    combinations are listed, so every option of a menu built from it answers."""
    runs = set()
    for key in grid:
        method, teacher, _strength, ratio, top_k, released = key.split("|")
        if method != "simclr":
            runs.add((method, teacher, None if ratio == "None" else float(ratio), int(top_k), released == "True"))
    order = {m: i for i, m in enumerate(_METHOD_NAMES)}
    menu = []
    for run in sorted(runs, key=lambda r: (order[r[0]], r[1], r[2] or 0.0, r[3], not r[4])):
        method, teacher, ratio, top_k, released = run
        label = _METHOD_NAMES[method] + f" · teacher {teacher}" + (f" · top-{top_k}" if method == "add_new_positive"
                                                                  else f" · ratio {ratio:g}")
        if method == "drop_false_positive":
            label += " · as released" if released else " · as intended"
        menu.append((label, run))
    return menu


def resampling_lookup_run(grid: dict, run: tuple, background_strength: float = 0.8) -> dict:
    """:func:`resampling_lookup` for one ``run`` of :func:`resampling_menu` at a nuisance strength."""
    method, teacher, ratio, top_k, as_released = run
    return resampling_lookup(grid, method, teacher, background_strength, ratio=ratio, top_k=top_k,
                             as_released=as_released)
