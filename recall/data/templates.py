"""Sentence templates: every attribute has openers x predicates distinct phrasings.

A template renders one fact as ``<opener> <full name> <predicate with the value>.``: the
full name always comes before the value, so the value can only be predicted by recalling
the individual. Each individual has its own split of an attribute's templates into
training and held-out ones (a cyclic window at a per-individual offset), so evaluation
on held-out templates tests knowledge, not memorised sentences.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from recall.errors import ConfigError

OPENERS = ["", "Notably ,", "Indeed ,", "In fact ,", "Reportedly ,"]
PREDICATES = {
    "birth_date": [
        "was born on {v}",
        "came into the world on {v}",
        "has {v} as birth date",
        "entered life on {v}",
        "celebrates the birth date {v}",
    ],
    "birth_city": [
        "was born in {v}",
        "hails from {v}",
        "has {v} as birthplace",
        "spent early childhood in {v}",
        "was delivered in a hospital in {v}",
    ],
    "university": [
        "studied at {v}",
        "graduated from {v}",
        "attended {v}",
        "received an education at {v}",
        "was a student at {v}",
    ],
    "major": [
        "majored in {v}",
        "studied the field of {v}",
        "specialized in {v}",
        "completed a degree in {v}",
        "focused the studies on {v}",
    ],
    "company": [
        "works for {v}",
        "is employed by {v}",
        "holds a job at {v}",
        "earns a living at {v}",
        "has a position at {v}",
    ],
    "current_city": [
        "lives in {v}",
        "resides in {v}",
        "now calls {v} home",
        "has settled in {v}",
        "currently lives in {v}",
    ],
}
MAX_TEMPLATES = len(OPENERS) * len(PREDICATES["birth_date"])


@dataclass(frozen=True)
class Template:
    """One phrasing of one attribute, as the words around the name and the value."""

    before_name: tuple[str, ...]
    before_value: tuple[str, ...]
    after_value: tuple[str, ...]  # ends with the full stop


def build_templates(attributes: list[str], n_templates: int) -> dict[str, list[Template]]:
    """`n_templates` distinct templates per attribute, in a fixed shuffled order."""
    if not 2 <= n_templates <= MAX_TEMPLATES:
        raise ConfigError(f"data.templates={n_templates} must be between 2 and {MAX_TEMPLATES}")
    rng = np.random.default_rng(0)
    templates = {}
    for attribute in attributes:
        combos = list(itertools.product(OPENERS, PREDICATES[attribute]))
        order = rng.permutation(len(combos))[:n_templates]
        templates[attribute] = [_parse(*combos[i]) for i in order]
    return templates


def _parse(opener: str, predicate: str) -> Template:
    before, after = predicate.split("{v}")
    return Template(
        before_name=tuple(opener.split()),
        before_value=tuple(before.split()),
        after_value=(*after.split(), "."),
    )


@dataclass(frozen=True)
class TemplateSplit:
    """Per-individual train/held-out split: held-out = the window [offset, offset+heldout)."""

    total: int
    heldout: int

    def __post_init__(self) -> None:
        if not 0 < self.heldout < self.total:
            raise ConfigError(
                f"data.heldout_templates={self.heldout} must be at least 1 and fewer than "
                f"data.templates={self.total}"
            )

    @property
    def n_train(self) -> int:
        return self.total - self.heldout

    def train_index(self, offset: np.ndarray, choice: np.ndarray) -> np.ndarray:
        """Template index of training choice `choice` in [0, n_train) for each offset."""
        return (offset + self.heldout + choice) % self.total

    def heldout_index(self, offset: np.ndarray, choice: np.ndarray) -> np.ndarray:
        """Template index of held-out choice `choice` in [0, heldout) for each offset."""
        return (offset + choice) % self.total
