"""Residual-stream activations: the input to each block and the final output, at chosen
positions only, so that a checkpoint's activations take (layers x positions x d) floats."""

from __future__ import annotations

import torch
from torch import Tensor

from recall.model.gpt import GPT


@torch.no_grad()
def residual_stream(
    model: GPT, tokens: Tensor, rows: Tensor, cols: Tensor, batch_size: int = 256
) -> Tensor:
    """[n_layer + 1, N, d]: the embeddings (0) and each block's output (l + 1) at the
    positions (rows[i], cols[i]) of `tokens`, computed in chunks of biographies."""
    out = torch.empty(model.config.n_layer + 1, len(rows), model.config.d_model)
    for start in range(0, len(tokens), batch_size):
        chunk = tokens[start : start + batch_size]
        picked = (rows >= start) & (rows < start + len(chunk))
        at = (rows[picked] - start, cols[picked])
        x = model.tok_emb(chunk) + model.pos_emb(torch.arange(chunk.shape[1]))
        out[0, picked] = x[at]
        for layer, block in enumerate(model.blocks):
            x, _ = block(x)
            out[layer + 1, picked] = x[at]
    return out
