"""Framework overhead and hardware efficiency (benchmarks 1, 2 and the batch-sampling
share of 4): recall's training loop against a plain PyTorch loop over the same model,
batches and optimizer, alternated so that machine noise hits both; MFU against the
matmul peak measured in the same run."""

from __future__ import annotations

import tempfile
from pathlib import Path
from statistics import median
from typing import Any

import torch

from benchmarks.common import config, matmul_peak, plain_loop, recall_loop


def measure(overrides: list[str], rounds: int = 5, steps: int = 100, warmup: int = 20) -> dict:
    """`rounds` alternating plain / recall windows of `steps` steps each: the median of
    the rounds' ratios (this machine drifts by ±10 % over minutes), the best of each."""
    cpu = torch.device("cpu")
    peak = matmul_peak(cpu, torch.float32, 1024)
    plain, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            plain.append(plain_loop(config(overrides), steps, warmup))
            ours.append(recall_loop(overrides, steps, warmup, Path(tmp) / f"round{i}"))
    peak = max(peak, matmul_peak(cpu, torch.float32, 1024))
    pairs = list(zip(plain, ours, strict=True))
    plain_best = max(plain, key=lambda t: t.tokens_per_s)
    ours_best = max(ours, key=lambda t: t.tokens_per_s)
    return {
        "config": overrides or "default",
        "steps_per_window": steps,
        "rounds": rounds,
        "plain_tokens_per_s": round(plain_best.tokens_per_s),
        "recall_tokens_per_s": round(ours_best.tokens_per_s),
        "recall_over_plain": round(median(o.tokens_per_s / p.tokens_per_s for p, o in pairs), 4),
        "step_ms": round(ours_best.step_ms, 2),
        "model_flops_per_s": round(ours_best.flops_per_s),
        "matmul_peak_flops_per_s": round(peak),
        "mfu": round(ours_best.flops_per_s / peak, 4),
        "padding_share": round(plain_best.padding_share, 4),
        "sampling_share_of_step": round(plain_best.sampling_seconds / plain_best.seconds, 4),
    }


def main() -> dict[str, Any]:
    return measure([])


if __name__ == "__main__":
    print(main())
