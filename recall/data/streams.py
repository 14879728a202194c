"""Every random stream of a run, named in one place, so that no two share their draws.

A stream is numpy's generator seeded by [seed, *key] (a training stream adds the step).
numpy's SeedSequence pads short entropy with zeros, so keys that differ only by trailing
zeros give the same draws ([s], [s, 0] and [s, 0, 0] are one stream). So every id below
is non-zero but pre-training's, and tests/test_streams.py checks that all streams differ.

One collision is known and kept: pre-training's id 0 makes its batch of step 0
([seed, 0, 0]) draw what the population ([seed]) draws. It touches one batch of a run
and biases nothing measured, but removing it changes every curve, so it goes with the
next full re-measurement (reports/measured and the README's figures).
"""

from __future__ import annotations

import numpy as np

POPULATION: tuple[int, ...] = ()  # names, values and template splits of the population
PRETRAINING = (0,)  # + (step,): the pre-training batch of each step
EVALUATION = (1,)  # the fixed evaluation sets (individuals, frames and sentence orders)
NEW_EVALUATION = (1, 1)  # fine-tuning: the new individuals' evaluation biographies
ANALYSIS = (2,)  # recall-analyze's fixed inputs
FINETUNING = (3,)  # + (step,): the fine-tuning batch of each step, apart from
# pre-training's, so that a continued-pre-training control does not replay its batches
NEW_INDIVIDUALS = (4,)  # fine-tuning: the new individuals' names, values and splits


def generator(seed: int, key: tuple[int, ...], *step: int) -> np.random.Generator:
    """The generator of stream `key` under `seed` (and at `step`, for the training ones)."""
    return np.random.default_rng([seed, *key, *step])
