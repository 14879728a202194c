"""Attribute-level scores, as defined in DESIGN.md.

attribute loss: cross-entropy summed over the tokens of one attribute value (then
averaged over attributes and examples). attribute accuracy: a value counts as recalled
only if every one of its tokens is the argmax prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor


@dataclass
class AttributeScores:
    """Per example and attribute: summed value loss and whether the value was recalled."""

    loss: Tensor  # [B, A] nats
    correct: Tensor  # [B, A] bool

    @property
    def attr_loss(self) -> float:
        return self.loss.mean().item()

    @property
    def attr_acc(self) -> float:
        return self.correct.float().mean().item()


def attribute_scores(
    logits: Tensor, tokens: Tensor, value_attr: Tensor, n_attr: int
) -> AttributeScores:
    """Score every attribute value in a batch from full-sequence logits [B, L, V].

    Position t predicts token t+1, so a value at positions [s, e) is scored by the
    logits at [s-1, e-1).
    """
    targets, target_attr = tokens[:, 1:], value_attr[:, 1:]
    logits = logits[:, :-1].float()
    token_loss = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # [B, L-1]
    wrong = logits.argmax(-1) != targets
    member = F.one_hot(target_attr.clamp(min=0), n_attr).bool() & (target_attr >= 0)[..., None]
    loss = (token_loss[..., None] * member).sum(1)  # [B, A]
    n_wrong = (wrong[..., None] & member).sum(1)
    return AttributeScores(loss=loss, correct=n_wrong == 0)
