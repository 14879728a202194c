"""Biographies as token batches with exact name and value spans.

A biography is one sentence per attribute, in a random order, each sentence drawn from
the individual's training templates (or held-out templates for evaluation) and naming
the individual in full. Training draws a fresh biography for every sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from recall.data.population import Population
from recall.data.templates import Template, build_templates
from recall.data.tokenizer import Tokenizer


@dataclass
class BiographyBatch:
    """A padded batch of biographies; positions index `tokens` (0 is the begin token)."""

    tokens: torch.Tensor  # [B, L] int64, padded with 0 after the biography
    value_attr: torch.Tensor  # [B, L] int64: attribute index of each value token, -1 elsewhere
    value_spans: torch.Tensor  # [B, A, 2] [start, end) of each attribute's value
    name_spans: torch.Tensor  # [B, A, 2] [start, end) of the name in each attribute's sentence
    individuals: torch.Tensor  # [B] population rows

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def select(self, rows: slice) -> BiographyBatch:
        return BiographyBatch(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))

    def shard(self, rank: int, world_size: int) -> BiographyBatch:
        """Rows rank, rank + world_size, ... (one data-parallel process's part of the batch),
        without the padding that none of them needs."""
        return self.select(slice(rank, None, world_size)).trimmed()

    def trimmed(self) -> BiographyBatch:
        """Without the trailing padding that every row has."""
        length = int((self.tokens > 0).sum(1).max())
        columns = slice(None, length)
        return replace(self, tokens=self.tokens[:, columns], value_attr=self.value_attr[:, columns])


class Corpus:
    """A population with its templates and tokenizer: everything needed to write biographies."""

    def __init__(self, population: Population) -> None:
        self.population = population
        self.templates: dict[str, list[Template]] = build_templates(
            population.attributes, population.split.total
        )
        self.tokenizer = Tokenizer.for_corpus(population, self.templates)
        tok = self.tokenizer
        self._name_ids = [
            np.array(tok.ids(pool))
            for pool in (population.names.first, population.names.middle, population.names.last)
        ]
        self._values = [[tok.ids(v) for v in pool.values] for pool in population.pools.values()]
        self._pieces = [
            [(tok.ids(t.before_name), tok.ids(t.before_value), tok.ids(t.after_value)) for t in ts]
            for ts in self.templates.values()
        ]
        longest_sentence = [
            max(len(a) + len(b) + len(c) for a, b, c in pieces) + 3 + max(map(len, values))
            for pieces, values in zip(self._pieces, self._values, strict=True)
        ]
        self.max_len = 1 + sum(longest_sentence)

    @property
    def n_attributes(self) -> int:
        return len(self._values)

    def training_batch(self, individuals: np.ndarray, rng: np.random.Generator) -> BiographyBatch:
        """Fresh biographies from the individuals' training templates, sentences shuffled."""
        split = self.population.split
        return self._sample(individuals, rng, split.n_train, split.train_index)

    def evaluation_batch(self, individuals: np.ndarray, rng: np.random.Generator) -> BiographyBatch:
        """Biographies written only with the individuals' held-out templates."""
        split = self.population.split
        return self._sample(individuals, rng, split.heldout, split.heldout_index)

    def _sample(
        self,
        individuals: np.ndarray,
        rng: np.random.Generator,
        n_choices: int,
        template_index: Callable[[np.ndarray, np.ndarray], np.ndarray],
    ) -> BiographyBatch:
        """One of `n_choices` templates per attribute for each individual, random order."""
        shape = (len(individuals), self.n_attributes)
        offsets = self.population.template_offsets[individuals]
        templates = template_index(offsets, rng.integers(n_choices, size=shape))
        return self._build(individuals, templates, rng.random(shape).argsort(axis=1))

    def _build(
        self, individuals: np.ndarray, templates: np.ndarray, orders: np.ndarray
    ) -> BiographyBatch:
        n, n_attr = templates.shape
        tokens = np.zeros((n, self.max_len), dtype=np.int64)
        value_attr = np.full((n, self.max_len), -1, dtype=np.int64)
        value_spans = np.zeros((n, n_attr, 2), dtype=np.int64)
        name_spans = np.zeros((n, n_attr, 2), dtype=np.int64)
        name_rows = self.population.name_ids[individuals]
        value_rows = self.population.values[individuals]
        tokens[:, 0] = self.tokenizer.bos_id
        for b in range(n):
            name = [int(ids[name_rows[b, j]]) for j, ids in enumerate(self._name_ids)]
            pos = 1
            for a in orders[b]:
                before_name, before_value, after_value = self._pieces[a][templates[b, a]]
                value = self._values[a][value_rows[b, a]]
                sentence = before_name + name + before_value + value + after_value
                tokens[b, pos : pos + len(sentence)] = sentence
                name_start = pos + len(before_name)
                name_spans[b, a] = (name_start, name_start + 3)
                value_start = name_start + 3 + len(before_value)
                value_spans[b, a] = (value_start, value_start + len(value))
                value_attr[b, value_start : value_start + len(value)] = a
                pos += len(sentence)
        batch = BiographyBatch(
            tokens=torch.from_numpy(tokens),
            value_attr=torch.from_numpy(value_attr),
            value_spans=torch.from_numpy(value_spans),
            name_spans=torch.from_numpy(name_spans),
            individuals=torch.from_numpy(np.asarray(individuals, dtype=np.int64)),
        )
        return batch.trimmed()  # padding shared by the whole batch
