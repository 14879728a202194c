"""Token trajectories: the loss of every token of fixed biographies at each checkpoint,
each token classified by the shape of its curve over a window of training.

Classes, over the window's checkpoints with relative loss r_t = loss_t / loss_first:
- stagnated: every |r_t - 1| <= band;
- double descent: r falls more than `band` below 1, then rises by more than `band` to a
  peak, then falls by more than `band` again (on a running median of 3 checkpoints);
- downward / upward: the least-squares slope of r on log(step) is negative / positive
  with a two-sided t-test p < alpha;
- other: none of these (a noisy curve without a significant trend).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from recall.data.corpus import BiographyBatch
from recall.model.gpt import GPT

CLASSES = ("stagnated", "double descent", "downward", "upward", "other")
ROLES = ("name", "template", "value")


@dataclass(frozen=True)
class TrajectoryCriterion:
    band: float = 0.1  # relative loss change that counts as movement
    alpha: float = 0.05  # significance level of the log-step trend


@torch.no_grad()
def token_losses(model: GPT, batch: BiographyBatch, batch_size: int = 256) -> torch.Tensor:
    """Cross-entropy of every predicted token [B, L-1] (padding positions hold NaN)."""
    parts = []
    for start in range(0, len(batch), batch_size):
        tokens = batch.tokens[start : start + batch_size]
        logits, _ = model(tokens)
        loss = F.cross_entropy(
            logits[:, :-1].transpose(1, 2), tokens[:, 1:], reduction="none", ignore_index=0
        )
        parts.append(loss.masked_fill(tokens[:, 1:] == 0, math.nan))
    return torch.cat(parts)


def token_roles(batch: BiographyBatch) -> np.ndarray:
    """Role of every predicted token [B, L-1]: 0 name, 1 template word, 2 attribute value,
    -1 padding."""
    targets = batch.tokens[:, 1:].numpy()
    roles = np.where(targets > 0, 1, -1)
    roles[batch.value_attr[:, 1:].numpy() >= 0] = 2
    positions = np.arange(batch.tokens.shape[1])
    for b, spans in enumerate(batch.name_spans.numpy()):
        for start, end in spans:
            roles[b, positions[start - 1 : end - 1]] = 0  # position t predicts token t + 1
    return roles


def t_critical(alpha: float, dof: int) -> float:
    """|t| beyond which a two-sided Student-t test rejects at level alpha (numerical
    integration of the density and bisection: no scipy needed)."""
    log_norm = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    grid = np.linspace(0, 200, 400_001)
    density = np.exp(log_norm - (dof + 1) / 2 * np.log1p(grid**2 / dof))
    tail = 1 - 2 * np.concatenate([[0], np.cumsum((density[1:] + density[:-1]) / 2 * grid[1])])
    return float(grid[np.searchsorted(-tail, -alpha)])


def classify(steps: np.ndarray, losses: np.ndarray, criterion: TrajectoryCriterion) -> np.ndarray:
    """Class index (into CLASSES) of each token's curve [n_tokens, n_steps]; steps > 0."""
    r = losses / losses[:, :1]
    stagnated = (np.abs(r - 1) <= criterion.band).all(1)
    double = double_descent(r, criterion.band)
    x = np.log(steps) - np.log(steps).mean()
    slope = (r - r.mean(1, keepdims=True)) @ x / (x @ x)
    fitted = r.mean(1, keepdims=True) + slope[:, None] * x
    dof = len(steps) - 2
    stderr = np.sqrt(((r - fitted) ** 2).sum(1) / dof / (x @ x))
    significant = np.abs(slope) > t_critical(criterion.alpha, dof) * np.maximum(stderr, 1e-12)
    classes = np.full(len(r), CLASSES.index("other"))
    classes[significant & (slope > 0)] = CLASSES.index("upward")
    classes[significant & (slope < 0)] = CLASSES.index("downward")
    classes[double] = CLASSES.index("double descent")
    classes[stagnated] = CLASSES.index("stagnated")
    return classes


def double_descent(r: np.ndarray, band: float) -> np.ndarray:
    """Curves that fall below 1 - band, rise by more than band to a peak, then fall by more
    than band below that peak; judged on the running median of 3 checkpoints, so that one
    noisy checkpoint makes no peak."""
    r = running_median(r)
    low_before = np.minimum.accumulate(r, axis=1)  # lowest point up to each step
    low_after = np.minimum.accumulate(r[:, ::-1], axis=1)[:, ::-1]  # lowest from each step on
    peak = (r - low_before > band) & (r - low_after > band) & (low_before < 1 - band)
    return peak.any(1)


def running_median(r: np.ndarray) -> np.ndarray:
    """Median of each point and its two neighbours along the last axis (ends kept)."""
    if r.shape[1] < 3:
        return r
    middle = np.median(np.stack([r[:, :-2], r[:, 1:-1], r[:, 2:]]), axis=0)
    return np.concatenate([r[:, :1], middle, r[:, -1:]], axis=1)
