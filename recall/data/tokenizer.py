"""Word-level tokenizer over the closed vocabulary of pools and templates.

Word-level keeps every name and value an exact, short run of tokens, so losses, masks
and attention metrics can address them by span with no sub-word guesswork.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from recall.data.population import Population
from recall.data.templates import Template

PAD, BOS = "<pad>", "<bos>"
_WORD = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")
_SPACE_BEFORE_PUNCT = re.compile(r" ([.,])")


class Tokenizer:
    """Maps words to ids and back; id 0 is padding, id 1 begins every sequence."""

    def __init__(self, words: Iterable[str]) -> None:
        self.vocab = [PAD, BOS, *sorted(set(words) - {PAD, BOS})]
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.pad_id, self.bos_id = 0, 1

    @classmethod
    def for_corpus(cls, population: Population, templates: dict[str, list[Template]]) -> Tokenizer:
        words = [*population.names.first, *population.names.middle, *population.names.last]
        for pool in population.pools.values():
            words.extend(w for value in pool.values for w in value)
        for attribute_templates in templates.values():
            for t in attribute_templates:
                words.extend((*t.before_name, *t.before_value, *t.after_value))
        return cls(words)

    def __len__(self) -> int:
        return len(self.vocab)

    def ids(self, words: Iterable[str]) -> list[int]:
        return [self.index[w] for w in words]

    def encode(self, text: str) -> list[int]:
        """Ids of a text; raises KeyError naming the first word outside the vocabulary."""
        words = _WORD.findall(text)
        missing = [w for w in words if w not in self.index]
        if missing:
            raise KeyError(f"word {missing[0]!r} is not in the vocabulary")
        return self.ids(words)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ids, skipping padding and begin-of-sequence; inverts `encode`."""
        words = [self.vocab[i] for i in ids if i not in (self.pad_id, self.bos_id)]
        return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(words))
