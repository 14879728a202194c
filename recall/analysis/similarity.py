"""Similarity of two representations of the same inputs ([N, d1] and [N, d2] arrays)."""

from __future__ import annotations

import torch
from torch import Tensor


def _centered(x: Tensor) -> Tensor:
    x = x.double()
    return x - x.mean(0)


def linear_cka(x: Tensor, y: Tensor) -> float:
    """Linear CKA (Kornblith et al. 2019): 1 for representations equal up to a rotation
    and a scale, near 0 for unrelated ones; it compares the inputs' similarity structure,
    so the two may have different widths."""
    x, y = _centered(x), _centered(y)
    cross = torch.linalg.matrix_norm(y.T @ x) ** 2
    return float(cross / (torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)))


def top_subspace(x: Tensor, keep: float = 0.99) -> Tensor:
    """Orthonormal basis [N, k] of the top singular directions of centred x that explain
    `keep` of its variance: SVCCA's first step, computed once per representation."""
    u, s, _ = torch.linalg.svd(_centered(x), full_matrices=False)
    explained = torch.cumsum(s**2, 0) / (s**2).sum()
    k = int(torch.searchsorted(explained, torch.tensor(keep, dtype=explained.dtype))) + 1
    return u[:, :k]


def svcca(x: Tensor, y: Tensor, keep: float = 0.99) -> float:
    """SVCCA (Raghu et al. 2017): the mean canonical correlation between the two
    representations' top subspaces; invariant to any invertible linear map of either."""
    return subspace_cca(top_subspace(x, keep), top_subspace(y, keep))


def subspace_cca(basis_x: Tensor, basis_y: Tensor) -> float:
    """Mean canonical correlation of two orthonormal bases (the cosines of their angles)."""
    return float(torch.linalg.svdvals(basis_x.T @ basis_y).clamp(max=1).mean())
