"""Cost growth (benchmark 5): training step time as the model widens and the population
grows, plain loop, so the table shows where the time goes."""

from __future__ import annotations

import torch

from benchmarks.common import config, matmul_peak, plain_loop, population_overrides

WIDTHS = (64, 128, 256, 512)
POPULATIONS = (1_000, 10_000, 100_000, 1_000_000)


def row(overrides: list[str], peak: float, steps: int = 30, warmup: int = 5) -> dict:
    cfg = config(overrides)
    timed = plain_loop(cfg, steps, warmup)
    return {
        "d_model": cfg.model.d_model,
        "n_individuals": cfg.data.n_individuals,
        "step_ms": round(timed.step_ms, 1),
        "tokens_per_s": round(timed.tokens_per_s),
        "mfu": round(timed.flops_per_s / peak, 3),
        "sampling_share_of_step": round(timed.sampling_seconds / timed.seconds, 3),
    }


def main() -> dict:
    peak = matmul_peak(torch.device("cpu"), torch.float32, 1024)
    widths = [row([f"model.d_model={d}"], peak) for d in WIDTHS]
    populations = [row(population_overrides(n), peak) for n in POPULATIONS]
    return {"by_width": widths, "by_population": populations}


if __name__ == "__main__":
    print(main())
