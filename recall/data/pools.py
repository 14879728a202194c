"""Procedurally generated vocabularies: person names and attribute value pools.

Nothing is downloaded: names and most values are pronounceable pseudo-words built from
syllables, so pools of any size exist and never collide across roles. Pools depend only on
their sizes (fixed internal seed), so two runs with the same sizes share one vocabulary.

Names are written with sub-word pieces, as a SentencePiece vocabulary cuts real names: a
name part is one to three syllables and every syllable is a token (``Ka ##lo ##mi``), so a
full name is about five tokens and the first layers have a name to assemble. A syllable is
consonants then one vowel, so a name splits into its pieces in exactly one way; values and
template words stay whole-word tokens.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recall.data.templates import FRAMES
from recall.errors import ConfigError

_POOL_SEED = 20250327
_ONSETS = list("bcdfghjklmnprstvz") + ["br", "dr", "kr", "st", "tr", "sh", "th"]
_VOWELS = list("aeiou")
_CODAS = ["", "", "n", "r", "l", "s"]
NAME_ONSETS = list("bdfgklmnprstvz") + ["br", "dr", "kr", "tr", "sh", "th"]
NAME_PIECES = {"first": (1, 2), "middle": (1, 2), "last": (1, 2, 3)}
"""Number of syllable pieces a name of each role may have, drawn uniformly: 5 on average."""
PIECE_PREFIX = "##"  # marks a piece that continues a word (WordPiece convention)

MONTHS = (
    "January February March April May June July August September October November December"
).split()
DAYS_PER_MONTH = 28  # every month gets days 1..28 so that day and month are independent
FIRST_YEAR = 1950
CITY_PREFIXES = ["New", "Port", "Lake", "Fort", "San"]
UNIVERSITY_FORMS = ["University of {}", "{} University", "{} Institute", "{} College"]
MAJOR_FIELDS = (
    "Physics Biology Chemistry Economics Linguistics Mathematics History Philosophy "
    "Geology Psychology Sociology Astronomy Engineering Architecture Statistics Music Law "
    "Medicine Ecology Robotics Literature Anthropology Neuroscience Finance Journalism"
).split()
MAJOR_QUALIFIERS = (
    "Applied Theoretical Computational Experimental Marine Industrial Environmental "
    "Clinical Political Quantitative Cognitive Urban"
).split()
COMPANY_SUFFIXES = ["Systems", "Labs", "Group", "Industries", "Holdings", "Dynamics", "Works"]

ATTRIBUTES = ("birth_date", "birth_city", "university", "major", "company", "current_city")
"""The attribute types a biography can hold, in canonical order."""


def pseudo_words(n: int, rng: np.random.Generator, exclude: set[str] = frozenset()) -> list[str]:
    """`n` distinct capitalised pseudo-words of two or three syllables, none in `exclude`."""
    words: list[str] = []
    seen = set(exclude)
    while len(words) < n:
        batch = 2 * (n - len(words)) + 64
        n_syll = rng.integers(2, 4, size=batch)
        onsets = rng.integers(len(_ONSETS), size=(batch, 3))
        vowels = rng.integers(len(_VOWELS), size=(batch, 3))
        codas = rng.integers(len(_CODAS), size=batch)
        for i in range(batch):
            syllables = [_ONSETS[onsets[i, j]] + _VOWELS[vowels[i, j]] for j in range(n_syll[i])]
            word = ("".join(syllables) + _CODAS[codas[i]]).capitalize()
            if word not in seen:
                seen.add(word)
                words.append(word)
                if len(words) == n:
                    break
    return words


def name_syllables() -> list[str]:
    """Every syllable a name piece can be: onset consonants, then one vowel."""
    return [onset + vowel for onset in NAME_ONSETS for vowel in _VOWELS]


def piece_names(
    n: int, pieces: Sequence[int], rng: np.random.Generator, reserved: set[str]
) -> list[str]:
    """`n` distinct capitalised names of `pieces` syllables each (drawn uniformly), none in
    `reserved` and none starting with a reserved word longer than its first syllable: a
    greedy sub-word tokenizer would read such a word instead of the name's own pieces."""
    syllables = name_syllables()
    capacity = sum(len(syllables) ** k for k in pieces)
    if n > capacity // 2:  # rejection sampling would crawl, or never end, beyond that
        raise ConfigError(
            f"{n} names of {'/'.join(map(str, pieces))} syllables requested; at most "
            f"{capacity // 2} can be drawn: lower data.first_names/middle_names/last_names "
            "and raise another"
        )
    names: list[str] = []
    while len(names) < n:
        batch = 2 * (n - len(names)) + 64
        counts = rng.choice(pieces, size=batch)
        draws = rng.integers(len(syllables), size=(batch, max(pieces)))
        for count, row in zip(counts, draws, strict=True):
            first, *rest = (syllables[i] for i in row[:count])
            name = first.capitalize() + "".join(rest)
            prefixes = (name[:end] for end in range(len(first) + 1, len(name) + 1))
            if name in reserved or any(p in reserved for p in prefixes):
                continue
            reserved.add(name)
            names.append(name)
            if len(names) == n:
                break
    return names


def name_pieces(name: str) -> list[str]:
    """The syllable pieces of a name, continuation pieces marked: Kalomi -> Ka ##lo ##mi."""
    pieces = re.findall(f"[^{''.join(_VOWELS)}]*[{''.join(_VOWELS)}]", name)
    return [pieces[0], *(PIECE_PREFIX + p for p in pieces[1:])]


@dataclass(frozen=True)
class NamePools:
    """First, middle and last names, each of one to three sub-word pieces."""

    first: list[str]
    middle: list[str]
    last: list[str]

    @property
    def n_combinations(self) -> int:
        return len(self.first) * len(self.middle) * len(self.last)


@dataclass(frozen=True)
class ValuePool:
    """The possible values of one attribute, each a tuple of words, assigned uniformly."""

    attribute: str
    values: list[tuple[str, ...]]

    @property
    def cardinality(self) -> int:
        return len(self.values)


def build_pools(
    n_first: int, n_middle: int, n_last: int, cardinalities: dict[str, int]
) -> tuple[NamePools, dict[str, ValuePool]]:
    """Name pools and one value pool per attribute, deterministic in the sizes alone."""
    rng = np.random.default_rng(_POOL_SEED)
    used: set[str] = set(CITY_PREFIXES) | set(MAJOR_FIELDS) | set(MAJOR_QUALIFIERS)
    used |= set(COMPANY_SUFFIXES) | set(MONTHS) | {"University", "Institute", "College", "of"}

    def take(n: int) -> list[str]:
        words = pseudo_words(n, rng, used)
        used.update(words)
        return words

    n_cities = max(cardinalities.get("birth_city", 0), cardinalities.get("current_city", 0))
    cities = _cities(take(n_cities))  # both city attributes draw from one list of cities

    def values(attribute: str, k: int) -> list[tuple[str, ...]]:
        if attribute == "birth_date":
            return _dates(k)
        if attribute in ("birth_city", "current_city"):
            return cities[:k]
        if attribute == "major":
            return _majors(k)
        if attribute == "university":
            return _formed(take(k), UNIVERSITY_FORMS, rng)
        if attribute == "company":
            return _formed(take(k), [f"{{}} {s}" for s in COMPANY_SUFFIXES], rng)
        raise ConfigError(f"unknown attribute {attribute!r} (known: {', '.join(ATTRIBUTES)})")

    pools = {a: ValuePool(a, values(a, k)) for a, k in cardinalities.items()}
    # Names last, so that they can avoid every whole word of the values and templates.
    reserved = (
        used | _frame_words() | {w for pool in pools.values() for v in pool.values for w in v}
    )
    sizes = {"first": n_first, "middle": n_middle, "last": n_last}
    names = NamePools(
        **{role: piece_names(n, NAME_PIECES[role], rng, reserved) for role, n in sizes.items()}
    )
    return names, pools


def _frame_words() -> set[str]:
    """Every word of every sentence frame, placeholders aside."""
    text = " ".join(f.format(name="", value="") for frames in FRAMES.values() for f in frames)
    return set(re.findall(r"[A-Za-z0-9]+", text))


def _dates(k: int) -> list[tuple[str, ...]]:
    per_year = DAYS_PER_MONTH * len(MONTHS)
    if k % per_year:
        raise ConfigError(
            f"data.attributes.birth_date={k} must be a multiple of {per_year} "
            f"({DAYS_PER_MONTH} days x 12 months), e.g. {per_year} for one year"
        )
    return [
        (str(d), m, str(FIRST_YEAR + y))
        for y in range(k // per_year)
        for m in MONTHS
        for d in range(1, DAYS_PER_MONTH + 1)
    ]


def _cities(roots: Sequence[str]) -> list[tuple[str, ...]]:
    """Every third city carries a prefix word ("Port Kalo"), making two-token values."""
    return [
        (CITY_PREFIXES[(i // 3) % len(CITY_PREFIXES)], r) if i % 3 == 2 else (r,)
        for i, r in enumerate(roots)
    ]


def _formed(
    roots: Sequence[str], forms: Sequence[str], rng: np.random.Generator
) -> list[tuple[str, ...]]:
    chosen = rng.integers(len(forms), size=len(roots))
    return [tuple(forms[f].format(r).split()) for r, f in zip(roots, chosen, strict=True)]


def _majors(k: int) -> list[tuple[str, ...]]:
    combos = [(f,) for f in MAJOR_FIELDS] + [
        (q, f) for q, f in itertools.product(MAJOR_QUALIFIERS, MAJOR_FIELDS)
    ]
    if k > len(combos):
        raise ConfigError(f"data.attributes.major={k} exceeds the {len(combos)} majors available")
    order = np.random.default_rng(_POOL_SEED).permutation(len(combos))
    return [combos[i] for i in order[:k]]
