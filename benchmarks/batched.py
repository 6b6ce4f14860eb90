"""Benchmark: many small models as one batched program against a loop over the same models.

Usage: python benchmarks/batched.py [--quick] [--device auto|cpu|cuda] [--threads 2] [--json PATH]

1. Huang et al.: 64 multi-modal models at the Figure-1 size (d = 2000, n = 100, m = 50, 200 GD steps, float32),
   :func:`huang2024.train_batched` on all 64 at once against 64 calls with one model each (the same code); the
   data are drawn once, before either timing.
2. CLIP-style digits: 16 MLP towers + caption heads (ideal captions, ColoredDigits training split, batch 128),
   :func:`mmcl_core.train.train_clip_batched` against 16 calls of :func:`train_contrastive`.

Achieved GFLOP/s count the dominant matrix products (formulas below) and are shown next to the machine's measured
float32 matmul peak (2048 x 2048 products, best of 5). ``--quick``: fewer steps and epochs.
"""

import argparse
import time

import numpy as np
import torch

from _report import emit
from mmcl_core.data.text import ideal_caption_embeddings
from mmcl_core.device import get_device
from mmcl_core.experiments import huang2024 as huang
from mmcl_core.models import make_tower
from mmcl_core.train import train_clip_batched, train_contrastive


def matmul_peak_gflops(device) -> float:
    a = torch.randn(2048, 2048, device=device)
    b = torch.randn(2048, 2048, device=device)
    best = float("inf")
    for _ in range(6):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * 2048 ** 3 / best / 1e9


def huang_flops(n: int, m: int, steps: int) -> float:
    """Per model, multi mode: per step the noise activations of both sides (2 x 2 m n^2), the noise part of the
    similarity (2 m n^2) and the two noise-gradient products (2 x 2 m n^2): 10 m n^2 flops."""
    return 10.0 * m * n * n * (steps + 1)


def clip_flops(n: int, batch: int, epochs: int, dims=((192, 256, 64), (10, 256, 64))) -> float:
    """Per model: forward of both MLPs (2 b (in h + h out) each) and the b x b logits (2 b^2 k), backward about
    twice the forward: 3 x forward per step."""
    steps = epochs * int(np.ceil(n / batch))
    forward = sum(2 * batch * (i * h + h * o) for i, h, o in dims) + 2 * batch * batch * dims[0][2]
    return 3.0 * forward * steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="where to write the results (default benchmarks/results/batched.json)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dev = get_device(args.device)
    peak = matmul_peak_gflops(dev)
    rows = []

    steps, B = (50 if args.quick else 200), 64
    p = huang.FIGURE1
    draws = [huang.draw_grams(s, mode="multi", sampler="lowdim", **{k: p[k] for k in (
        "d", "n", "m", "n_test", "mu_norm", "c_mu", "noise_std", "nu_norm", "init_std")}) for s in range(B)]
    kw = dict(mode="multi", dtype="float32", epochs=steps, track_every=0, device=args.device,
              lr=p["lr"], temperature=p["temperature"])
    huang.train_batched(draws[:2], **{**kw, "epochs": 2})  # warm-up
    start = time.perf_counter()
    huang.train_batched(draws, **kw)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    for draw in draws:
        huang.train_batched([draw], **kw)
    loop = time.perf_counter() - start
    flops = B * huang_flops(p["n"], p["m"], steps)
    rows.append({"experiment": f"Huang multi-modal, {B} models x {steps} steps", "batched_s": batched, "loop_s": loop,
                 "speedup": loop / batched, "batched_gflops": flops / batched / 1e9, "loop_gflops": flops / loop / 1e9,
                 "peak_gflops": peak, "fraction_of_peak": flops / batched / 1e9 / peak})

    epochs, B = (3 if args.quick else 10), 16
    data = huang.colored_digits(seed=0)["train"]
    images, text = data["images"], ideal_caption_embeddings(data["true_labels"])
    towers = [make_tower(192, 64, seed=s, device=dev) for s in range(B)]
    heads = [make_tower(10, 64, seed=s + 1, device=dev) for s in range(B)]
    train_clip_batched(towers[:2], heads[:2], images, text, seeds=[0, 1], epochs=1, device=args.device)  # warm-up
    towers = [make_tower(192, 64, seed=s, device=dev) for s in range(B)]
    heads = [make_tower(10, 64, seed=s + 1, device=dev) for s in range(B)]
    start = time.perf_counter()
    train_clip_batched(towers, heads, images, text, seeds=list(range(B)), epochs=epochs, device=args.device)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    for s in range(B):
        train_contrastive(make_tower(192, 64, seed=s, device=dev), images, mode="clip", text_embeddings=text,
                          text_head=make_tower(10, 64, seed=s + 1, device=dev), epochs=epochs, seed=s,
                          device=args.device)
    loop = time.perf_counter() - start
    flops = B * clip_flops(len(images), 128, epochs)
    rows.append({"experiment": f"CLIP digits MLP, {B} models x {epochs} epochs", "batched_s": batched,
                 "loop_s": loop, "speedup": loop / batched, "batched_gflops": flops / batched / 1e9,
                 "loop_gflops": flops / loop / 1e9, "peak_gflops": peak,
                 "fraction_of_peak": flops / batched / 1e9 / peak})
    emit("batched", rows, args.json, {"device": str(dev), "threads": args.threads, "quick": args.quick})


if __name__ == "__main__":
    main()
