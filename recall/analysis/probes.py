"""Linear probes: how much of an attribute's value a representation holds, linearly, for
individuals the probe never saw."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def split_individuals(n: int, test_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test rows over n individuals (each individual in one of them)."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test_share))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def probe_accuracy(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    n_classes: int,
    l2: float = 1e-3,
    iterations: int = 50,
) -> float:
    """Test accuracy of a multinomial logistic regression on standardised features, fitted
    by full-batch L-BFGS from zero weights (deterministic; a fraction of a second for a
    thousand individuals and a few hundred classes)."""
    mean, std = train_x.mean(0), train_x.std(0).clamp(min=1e-6)
    a, b = (train_x - mean) / std, (test_x - mean) / std
    weights = torch.zeros(a.shape[1], n_classes, dtype=a.dtype, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=a.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weights, bias], max_iter=iterations, history_size=10, line_search_fn="strong_wolfe"
    )

    def loss() -> Tensor:
        optimizer.zero_grad()
        value = F.cross_entropy(a @ weights + bias, train_y) + l2 * (weights**2).sum()
        value.backward()
        return value

    with torch.enable_grad():
        optimizer.step(loss)
    with torch.no_grad():
        predicted = (b @ weights + bias).argmax(1)
    return float((predicted == test_y).double().mean())
