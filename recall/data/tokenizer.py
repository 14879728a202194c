"""The corpus tokenizer: a Hugging Face `tokenizers` WordPiece model over a closed vocabulary.

Values and template words are whole-word tokens; names are cut into their syllable pieces
(``Ka ##lo ##mi``), as a sub-word vocabulary cuts real names. Being a standard
`tokenizers.Tokenizer`, it is saved with every run as tokenizer.json and loads elsewhere
(`tokenizers.Tokenizer.from_file`, `transformers`). Encoding a text gives exactly the ids
the corpus builds from its pieces, and decoding gives the text back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, processors

from recall.data.pools import name_pieces
from recall.data.population import Population
from recall.data.templates import Template

PAD, BOS, UNK = "<pad>", "<bos>", "<unk>"
SPECIAL = (PAD, BOS, UNK)  # ids 0, 1, 2
_WORD = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")


class Tokenizer:
    """Ids for texts and back; id 0 pads, id 1 begins every sequence."""

    pad_id, bos_id, unk_id = 0, 1, 2

    def __init__(self, hf: HFTokenizer) -> None:
        self.hf = hf
        self.vocab = [hf.id_to_token(i) for i in range(hf.get_vocab_size())]

    @classmethod
    def build(cls, tokens: Iterable[str]) -> Tokenizer:
        """A WordPiece tokenizer over `tokens` (whole words, and ##-marked continuations)."""
        vocab = {t: i for i, t in enumerate([*SPECIAL, *sorted(set(tokens) - set(SPECIAL))])}
        hf = HFTokenizer(models.WordPiece(vocab, unk_token=UNK, max_input_chars_per_word=100))
        hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # whitespace and punctuation
        hf.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # "Ka ##lo" -> "Kalo"
        hf.post_processor = processors.TemplateProcessing(
            single=f"{BOS} $A", special_tokens=[(BOS, cls.bos_id)]
        )
        hf.add_special_tokens(list(SPECIAL))
        return cls(hf)

    @classmethod
    def for_corpus(cls, population: Population, templates: dict[str, list[Template]]) -> Tokenizer:
        names = population.names
        tokens = {
            p for name in [*names.first, *names.middle, *names.last] for p in name_pieces(name)
        }
        words = [w for pool in population.pools.values() for value in pool.values for w in value]
        for attribute_templates in templates.values():
            for t in attribute_templates:
                words.extend(_WORD.findall(t.before_name + t.before_value + t.after_value))
        return cls.build(tokens | set(words))

    @classmethod
    def from_file(cls, path: str | Path) -> Tokenizer:
        return cls(HFTokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> None:
        self.hf.save(str(path))

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """Ids of a text (no begin token); raises KeyError naming a word outside the vocabulary."""
        encoding = self.hf.encode(text, add_special_tokens=False)
        if self.unk_id in encoding.ids:
            start, end = encoding.offsets[encoding.ids.index(self.unk_id)]
            raise KeyError(f"word {text[start:end]!r} is not in the vocabulary")
        return encoding.ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ids, without padding and begin token; inverts `encode`."""
        return self.hf.decode([int(i) for i in ids], skip_special_tokens=True)
