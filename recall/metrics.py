"""Attribute-level scores, as defined in DESIGN.md.

attribute loss: cross-entropy summed over the tokens of one attribute value (then
averaged over attributes and examples). attribute accuracy: a value counts as recalled
only if every one of its tokens is the argmax prediction. confidence: the probability
the model gives its own greedy value (product over the value's tokens of the top
probability, with the true earlier tokens as context); entropy: the predictive entropy
averaged over the value's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class AttributeScores:
    """Per example and attribute ([B, A] each)."""

    loss: Tensor  # nats, summed over the value's tokens
    correct: Tensor  # bool: every token of the value is the argmax
    confidence: Tensor  # probability of the greedy value
    entropy: Tensor  # nats, mean over the value's tokens

    @property
    def attr_loss(self) -> float:
        return self.loss.mean().item()

    @property
    def attr_acc(self) -> float:
        return self.correct.float().mean().item()

    def select(self, rows: Tensor) -> AttributeScores:
        """The scores of some examples (an index or boolean mask over the batch)."""
        return AttributeScores(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))

    @classmethod
    def cat(cls, parts: list[AttributeScores]) -> AttributeScores:
        return cls(*(torch.cat([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))


def value_positions(value_attr: Tensor) -> tuple[Tensor, Tensor]:
    """(rows, columns) of the positions whose next token belongs to a value: the only
    logits scoring needs. Position t predicts token t+1."""
    return (value_attr[:, 1:] >= 0).nonzero(as_tuple=True)


def attribute_scores(
    logits: Tensor, tokens: Tensor, value_attr: Tensor, n_attr: int
) -> AttributeScores:
    """Score every attribute value in a batch from full-sequence logits [B, L, V]."""
    positions = value_positions(value_attr)
    return value_scores(logits[:, :-1][positions], positions, tokens, value_attr, n_attr)


def value_scores(
    value_logits: Tensor,
    positions: tuple[Tensor, Tensor],
    tokens: Tensor,
    value_attr: Tensor,
    n_attr: int,
) -> AttributeScores:
    """Score every attribute value from the logits [N, V] at its `value_positions`:
    a value at positions [s, e) is scored by the logits at [s-1, e-1)."""
    targets, target_attr = tokens[:, 1:], value_attr[:, 1:]
    rows, cols = positions  # every value token
    log_probs = value_logits.float().log_softmax(-1)  # [N, V]
    target = targets[rows, cols]
    slot = rows * n_attr + target_attr[rows, cols]  # which (example, attribute) it belongs to

    def per_attribute(values: Tensor) -> Tensor:  # sum over each value's tokens -> [B, A]
        total = torch.zeros(len(tokens) * n_attr, dtype=values.dtype, device=values.device)
        return total.index_add_(0, slot, values).view(len(tokens), n_attr)

    top_log_prob, top = log_probs.max(-1)
    token_entropy = -(log_probs.exp() * log_probs).sum(-1)
    return AttributeScores(
        loss=per_attribute(-log_probs.gather(1, target[:, None]).squeeze(1)),
        correct=per_attribute((top != target).float()) == 0,
        confidence=per_attribute(top_log_prob).exp(),
        entropy=per_attribute(token_entropy)
        / per_attribute(torch.ones_like(token_entropy)).clamp(min=1),
    )
