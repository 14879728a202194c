"""The no-knowledge baseline: the attribute loss of the best predictor that knows the
attribute type but not the individual.

That predictor gives every value its share of the training data: the sampling-weighted
marginal of the attribute's values over the training population. Its loss on an
evaluation set is the cross-entropy of the set's values under that marginal, averaged
like the attribute loss (over examples and attributes; a multi-token value's summed
token loss is -log of its marginal probability, by the chain rule). log K, its
large-population limit for K uniformly assigned values, is kept as `baseline_uniform`: at
N = 250 and K = 200 the empirical baseline is about 9 % lower, as large as a detector margin.

A set may hold values the training data never shows (unseen individuals at small N, or
individuals with zero sampling weight): the plain marginal gives them probability 0 and
the loss is infinite. For such a set, and only then, the marginal is smoothed with half a
pseudo-count per value (the Krichevsky-Trofimov estimator), counts being sampling weights
scaled to sum to the population size.
"""

from __future__ import annotations

import numpy as np

from recall.data.population import Population

PSEUDO_COUNT = 0.5  # Krichevsky-Trofimov: the standard estimator for unseen categories


def value_counts(population: Population, weights: np.ndarray) -> list[np.ndarray]:
    """Per attribute, each value's sampling weight summed over the seen individuals, scaled
    so that all individuals together count n_seen (a uniform sampling counts people)."""
    scaled = weights * population.n_seen / weights.sum()
    return [
        np.bincount(population.values[: population.n_seen, a], scaled, pool.cardinality)
        for a, pool in enumerate(population.pools.values())
    ]


def no_knowledge_baseline(
    population: Population, weights: np.ndarray, individuals: np.ndarray
) -> float:
    """Mean over `individuals` and attributes of -log(marginal probability of the value)."""
    losses = []
    for a, counts in enumerate(value_counts(population, weights)):
        values = population.values[individuals, a]
        if (counts[values] <= 0).any():
            counts = counts + PSEUDO_COUNT
        losses.append(-np.log(counts[values] / counts.sum()))
    return float(np.mean(losses))


def uniform_baseline(population: Population) -> float:
    """Mean over attributes of log K: the baseline of an infinite uniform population."""
    return float(np.mean([np.log(pool.cardinality) for pool in population.pools.values()]))
