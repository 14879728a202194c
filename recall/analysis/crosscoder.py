"""A crosscoder across snapshots: one sparse dictionary for a layer's activations at every
checkpoint at once (Lindsey et al. 2024, "Sparse crosscoders").

A shared encoder reads the same input's activations from all C checkpoints,
f = ReLU(sum_c W_enc[c] x_c + b_enc), and a decoder per checkpoint rebuilds each,
x_c ~ W_dec[c] f + b_dec[c]. The sparsity penalty weighs each latent by the sum of its
decoder norms over checkpoints, so a latent whose direction is absent at a checkpoint
keeps a small decoder norm there: the norms trace each feature's strength over training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class CrosscoderConfig:
    latents_per_dim: int = 2  # dictionary size as a multiple of the layer's width
    sparsity: float = 3e-3  # weight of the decoder-norm-weighted L1 penalty
    steps: int = 1500
    lr: float = 3e-3
    batch_size: int = 512
    seed: int = 0


class Crosscoder(nn.Module):
    def __init__(self, n_snapshots: int, d: int, n_latents: int) -> None:
        super().__init__()
        self.encoder = nn.Parameter(torch.randn(n_snapshots, d, n_latents) / np.sqrt(d))
        self.encoder_bias = nn.Parameter(torch.zeros(n_latents))
        self.decoder = nn.Parameter(self.encoder.detach().transpose(1, 2).clone() * 0.1)
        self.decoder_bias = nn.Parameter(torch.zeros(n_snapshots, d))

    def latents(self, x: Tensor) -> Tensor:
        """[batch, latent] codes of activations x [batch, snapshot, d]."""
        return torch.relu(torch.einsum("bcd,cdl->bl", x, self.encoder) + self.encoder_bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.latents(x)
        return torch.einsum("bl,cld->bcd", f, self.decoder) + self.decoder_bias, f

    def decoder_norms(self) -> Tensor:
        """[snapshot, latent]: each latent's decoder norm at each checkpoint."""
        return self.decoder.norm(dim=2)


def train_crosscoder(x: Tensor, config: CrosscoderConfig) -> Crosscoder:
    """Fit a crosscoder to activations x [N, snapshot, d], each snapshot's activations
    centred and scaled to unit mean norm so that every checkpoint weighs the same."""
    torch.manual_seed(config.seed)
    x = normalised(x)
    n, n_snapshots, d = x.shape
    model = Crosscoder(n_snapshots, d, config.latents_per_dim * d)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    for _ in range(config.steps):
        batch = x[torch.randint(n, (min(config.batch_size, n),), generator=generator)]
        rebuilt, f = model(batch)
        mse = ((rebuilt - batch) ** 2).sum((1, 2)).mean()
        penalty = (f * model.decoder_norms().sum(0)).sum(1).mean()
        loss = mse + config.sparsity * penalty
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def normalised(x: Tensor) -> Tensor:
    """Each snapshot's activations centred and scaled to unit mean norm."""
    x = x - x.mean(0, keepdim=True)
    return x / x.norm(dim=2).mean(0)[None, :, None].clamp(min=1e-8)


def emergence(norms: Tensor, steps: list[int], share: float = 0.5) -> np.ndarray:
    """Each latent's emergence step: the first checkpoint at which its decoder norm reaches
    `share` of its largest ([snapshot, latent] norms)."""
    reached = norms >= share * norms.max(0).values
    return np.asarray(steps)[reached.float().argmax(0).numpy()]
