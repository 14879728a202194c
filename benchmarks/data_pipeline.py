"""Data pipeline (benchmark 4): population generation time and peak memory as the
population grows, and the time to draw and write one training batch."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from benchmarks.common import config, population_overrides, training_setup
from recall.data.population import generate_population
from recall.settings import validate

SIZES = (10_000, 100_000, 1_000_000)


def population_cost(n: int) -> dict:
    settings = validate(config(population_overrides(n)))
    started = time.perf_counter()
    generate_population(settings.population)
    seconds = time.perf_counter() - started
    tracemalloc.start()  # a second, traced pass: numpy reports its buffers to tracemalloc
    generate_population(settings.population)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"n_individuals": n, "seconds": round(seconds, 3), "peak_mib": round(peak / 2**20, 1)}


def batch_ms(overrides: list[str], batches: int = 100) -> float:
    """Mean time to draw a training batch (individuals, templates, tokens), in ms."""
    stream, _ = training_setup(config(overrides))
    times = []
    for step in range(batches):
        started = time.perf_counter()
        stream.batch(step)
        times.append(time.perf_counter() - started)
    return round(1000 * float(np.mean(times)), 3)


def main() -> dict:
    return {
        "population": [population_cost(n) for n in SIZES],
        "batch_ms": {str(n): batch_ms(population_overrides(n)) for n in SIZES},
    }


if __name__ == "__main__":
    print(main())
