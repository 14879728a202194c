import math

import numpy as np
import torch

from recall.metrics import attribute_scores
from recall.model.module import RecallModule


def one_hot_logits(tokens, vocab, confident=20.0):
    """Logits predicting every next token with near certainty."""
    logits = torch.zeros(*tokens.shape, vocab)
    logits[:, :-1].scatter_(2, tokens[:, 1:, None], confident)
    return logits


def test_attribute_loss_sums_value_tokens_and_accuracy_needs_all_of_them():
    # one sequence: <bos> w w v0 v0 w v1 ; attribute 0 has two tokens, attribute 1 one
    tokens = torch.tensor([[1, 5, 6, 7, 8, 9, 4]])
    value_attr = torch.tensor([[-1, -1, -1, 0, 0, -1, 1]])
    logits = one_hot_logits(tokens, vocab=10)
    # make position 3 (predicting token 8, second token of attribute 0) uniform: loss log 10
    logits[0, 3] = 0.0
    scores = attribute_scores(logits, tokens, value_attr, n_attr=2)
    near_zero = math.log1p(9 * math.exp(-20))
    expected = torch.tensor([[near_zero + math.log(10), near_zero]])
    torch.testing.assert_close(scores.loss, expected, atol=1e-6, rtol=1e-6)
    assert scores.correct.tolist() == [[False, True]]
    assert abs(scores.attr_acc - 0.5) < 1e-9
    assert abs(scores.attr_loss - (2 * near_zero + math.log(10)) / 2) < 1e-5


def test_non_value_tokens_do_not_count():
    tokens = torch.tensor([[1, 5, 6, 7]])
    value_attr = torch.tensor([[-1, -1, -1, 0]])
    logits = one_hot_logits(tokens, vocab=10)
    logits[0, 0] = 0.0  # a wrong guess on a template word: no effect
    scores = attribute_scores(logits, tokens, value_attr, n_attr=1)
    assert scores.correct.all() and scores.loss.item() < 1e-6


def test_module_scores_from_value_positions_match_full_logits(corpus):
    """Evaluation computes logits only where a value token is predicted: same scores."""
    torch.manual_seed(0)
    shape = {"vocab_size": len(corpus.tokenizer), "max_len": corpus.max_len, "d_model": 32}
    module = RecallModule(shape, {}, [0], {"seen": 1.0}, n_attributes=corpus.n_attributes)
    batch = corpus.evaluation_batch(np.arange(20), np.random.default_rng(0))
    with torch.no_grad():
        logits, _ = module.model(batch.tokens)
    full = attribute_scores(logits, batch.tokens, batch.value_attr, corpus.n_attributes)
    scored = module.score(batch)
    for field in ("loss", "correct", "confidence", "entropy"):
        torch.testing.assert_close(getattr(scored, field), getattr(full, field))
