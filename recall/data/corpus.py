"""Biographies as token batches with exact name and value spans.

A biography is one sentence per attribute, in a random order, each sentence drawn from
the individual's training templates (or held-out templates for evaluation) and naming
the individual in full. Training draws a fresh biography for every sequence.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Fact:
    """One attribute value in a biography's text, at characters [start, end)."""

    attribute: str
    template: int  # index into the corpus's templates of that attribute
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Biography:
    """A biography as text: what the token batches encode, for export and inspection."""

    individual: int
    text: str
    facts: list[Fact]


class Corpus:
    """A population with its templates and tokenizer: everything needed to write biographies."""

    def __init__(self, population: Population) -> None:
        self.population = population
        self.templates: dict[str, list[Template]] = build_templates(
            population.attributes, population.split.total
        )
        self.tokenizer = Tokenizer.for_corpus(population, self.templates)
        encode = self.tokenizer.encode
        names = population.names
        self._name_ids = [
            [encode(n) for n in pool] for pool in (names.first, names.middle, names.last)
        ]
        self._values = [
            [encode(" ".join(v)) for v in pool.values] for pool in population.pools.values()
        ]
        self._pieces = [
            [(encode(t.before_name), encode(t.before_value), encode(t.after_value)) for t in ts]
            for ts in self.templates.values()
        ]
        longest_name = sum(max(map(len, pool)) for pool in self._name_ids)
        longest_sentence = [
            max(len(a) + len(b) + len(c) for a, b, c in pieces)
            + longest_name
            + max(map(len, values))
            for pieces, values in zip(self._pieces, self._values, strict=True)
        ]
        self.max_len = 1 + sum(longest_sentence)

    @property
    def n_attributes(self) -> int:
        return len(self._values)

    def training_batch(self, individuals: np.ndarray, rng: np.random.Generator) -> BiographyBatch:
        """Fresh biographies from the individuals' training templates, sentences shuffled."""
        return self.build(individuals, *self.choose(individuals, rng, heldout=False))

    def evaluation_batch(self, individuals: np.ndarray, rng: np.random.Generator) -> BiographyBatch:
        """Biographies written only with the individuals' held-out templates."""
        return self.build(individuals, *self.choose(individuals, rng, heldout=True))

    def choose(
        self, individuals: np.ndarray, rng: np.random.Generator, heldout: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each individual, one of its training (or held-out) templates per attribute
        and a random sentence order: two [n, n_attributes] arrays of template indices and
        attribute indices."""
        split = self.population.split
        n_choices, index = (
            (split.heldout, split.heldout_index) if heldout else (split.n_train, split.train_index)
        )
        shape = (len(individuals), self.n_attributes)
        offsets = self.population.template_offsets[individuals]
        templates = index(offsets, rng.integers(n_choices, size=shape))
        return templates, rng.random(shape).argsort(axis=1)

    def text(self, individual: int, templates: np.ndarray, order: np.ndarray) -> Biography:
        """The text of one biography (template index per attribute, sentence order), with the
        character span of every value: what `build` writes as tokens, as a string."""
        population = self.population
        name = population.full_name(individual)
        sentences, facts, start = [], [], 0
        for a in order:
            attribute = population.attributes[a]
            template = self.templates[attribute][templates[a]]
            value = population.value(individual, attribute)
            sentence = template.render(name, value)
            value_start = start + len(template.before_name) + len(name) + len(template.before_value)
            facts.append(
                Fact(attribute, int(templates[a]), value, value_start, value_start + len(value))
            )
            sentences.append(sentence)
            start += len(sentence) + 1  # sentences are joined by one space
        return Biography(individual, " ".join(sentences), facts)

    def build(
        self, individuals: np.ndarray, templates: np.ndarray, orders: np.ndarray
    ) -> BiographyBatch:
        """The token batch of chosen biographies (`choose`): what `text` writes as strings."""
        n, n_attr = templates.shape
        tokens = np.zeros((n, self.max_len), dtype=np.int64)
        value_attr = np.full((n, self.max_len), -1, dtype=np.int64)
        value_spans = np.zeros((n, n_attr, 2), dtype=np.int64)
        name_spans = np.zeros((n, n_attr, 2), dtype=np.int64)
        name_rows = self.population.name_ids[individuals]
        value_rows = self.population.values[individuals]
        tokens[:, 0] = self.tokenizer.bos_id
        for b in range(n):
            name = [i for j, pool in enumerate(self._name_ids) for i in pool[name_rows[b, j]]]
            pos = 1
            for a in orders[b]:
                before_name, before_value, after_value = self._pieces[a][templates[b, a]]
                value = self._values[a][value_rows[b, a]]
                sentence = before_name + name + before_value + value + after_value
                tokens[b, pos : pos + len(sentence)] = sentence
                name_start = pos + len(before_name)
                name_spans[b, a] = (name_start, name_start + len(name))
                value_start = name_start + len(name) + len(before_value)
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
