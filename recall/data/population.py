"""The population: individuals with unique full names and one value per attribute.

Generation is vectorised (one draw per array, no Python loop over individuals), so a
million individuals take seconds. Seen individuals (the training population) and unseen
ones (never trained on, for hallucination metrics) come from one draw, so their names
are disjoint by construction.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np

from recall.data.pools import ATTRIBUTES, NamePools, ValuePool, build_pools
from recall.data.streams import NEW_INDIVIDUALS, POPULATION, generator
from recall.data.templates import TemplateSplit
from recall.errors import ConfigError

MAX_NAME_OCCUPANCY = 0.5
"""Largest share of all first x middle x last combinations a population may use."""


@dataclass(frozen=True)
class PopulationConfig:
    """Sizes of the population and of every pool; all a population depends on, with the seed."""

    n_individuals: int = 1000
    n_unseen: int = 256
    first_names: int = 32
    middle_names: int = 32
    last_names: int = 64
    attributes: dict[str, int] | None = None  # attribute -> number of distinct values
    templates: int = 25
    heldout_templates: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ConfigError(f"seed={self.seed} must be zero or positive")
        if self.n_individuals <= 0:
            raise ConfigError(f"data.n_individuals={self.n_individuals} must be positive")
        if self.n_unseen < 0:
            raise ConfigError(f"data.n_unseen={self.n_unseen} must be zero or positive")
        for key in ("first_names", "middle_names", "last_names"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"data.{key}={getattr(self, key)} must be positive")
        if not self.attributes:
            raise ConfigError("data.attributes is empty: give at least one attribute")
        unknown = [a for a in self.attributes if a not in ATTRIBUTES]
        if unknown:
            raise ConfigError(
                f"unknown attribute {unknown[0]!r} in data.attributes "
                f"(known: {', '.join(ATTRIBUTES)})"
            )
        for attribute, k in self.attributes.items():
            if k < 2:
                raise ConfigError(f"data.attributes.{attribute}={k} must be at least 2")
        combos = self.first_names * self.middle_names * self.last_names
        needed = self.n_individuals + self.n_unseen
        if needed > MAX_NAME_OCCUPANCY * combos:
            raise ConfigError(
                f"name pools too small: {needed} individuals need at least "
                f"{int(needed / MAX_NAME_OCCUPANCY)} first x middle x last names, pools give "
                f"{combos}; raise data.first_names, data.middle_names or data.last_names"
            )
        TemplateSplit(self.templates, self.heldout_templates)  # validates the split

    @property
    def attribute_names(self) -> list[str]:
        """Attributes in canonical order, whatever order the config listed them in."""
        return [a for a in ATTRIBUTES if a in self.attributes]


@dataclass
class Population:
    """Index arrays over the pools; row i < n_seen is a seen individual, the rest unseen."""

    config: PopulationConfig
    names: NamePools
    pools: dict[str, ValuePool]  # canonical attribute order
    name_ids: np.ndarray  # [n_total, 3] indices into first / middle / last pools
    values: np.ndarray  # [n_total, n_attributes] index into each attribute's pool
    template_offsets: np.ndarray  # [n_total, n_attributes] start of the held-out window
    split: TemplateSplit

    @property
    def attributes(self) -> list[str]:
        return list(self.pools)

    @property
    def n_seen(self) -> int:
        return self.config.n_individuals

    @property
    def n_unseen(self) -> int:
        return self.config.n_unseen

    def full_name(self, i: int) -> str:
        f, m, last = self.name_ids[i]
        return f"{self.names.first[f]} {self.names.middle[m]} {self.names.last[last]}"

    def value(self, i: int, attribute: str) -> str:
        a = self.attributes.index(attribute)
        return " ".join(self.pools[attribute].values[self.values[i, a]])

    def fingerprint(self) -> str:
        """Hash of everything that defines the corpus, to tell two corpora apart."""
        h = hashlib.sha256()
        for array in (self.name_ids, self.values, self.template_offsets):
            h.update(np.ascontiguousarray(array).tobytes())
        for pool in self.pools.values():
            h.update(repr(pool.values).encode())
        h.update(repr((self.names.first, self.names.middle, self.names.last)).encode())
        return h.hexdigest()[:16]


def generate_population(config: PopulationConfig) -> Population:
    """Draw names, values and template splits for seen and unseen individuals."""
    assert config.attributes is not None
    cardinalities = {a: config.attributes[a] for a in config.attribute_names}
    names, pools = build_pools(
        config.first_names, config.middle_names, config.last_names, cardinalities
    )
    rng = generator(config.seed, POPULATION)
    n_total = config.n_individuals + config.n_unseen
    n_mid, n_last = len(names.middle), len(names.last)
    codes = rng.choice(names.n_combinations, size=n_total, replace=False)
    name_ids = np.stack([codes // (n_mid * n_last), (codes // n_last) % n_mid, codes % n_last], 1)
    ks = np.array([pools[a].cardinality for a in pools])
    values = (rng.random((n_total, len(ks))) * ks).astype(np.int64)
    offsets = rng.integers(config.templates, size=(n_total, len(ks)), dtype=np.int16)
    return Population(
        config=config,
        names=names,
        pools=pools,
        name_ids=name_ids.astype(np.int32),
        values=values.astype(np.int32),
        template_offsets=offsets,
        split=TemplateSplit(config.templates, config.heldout_templates),
    )


def add_individuals(population: Population, n_new: int, seed: int) -> Population:
    """The population with `n_new` more seen individuals from the same generator.

    For fine-tuning: rows keep their order (old seen individuals first, then the new
    ones, then the unseen), new names are unused by anyone, values are drawn like the
    originals, and pools (hence the vocabulary) are unchanged.
    """
    if n_new <= 0:
        raise ConfigError(f"new_individuals={n_new} must be positive")
    names = population.names
    free = int(MAX_NAME_OCCUPANCY * names.n_combinations) - len(population.name_ids)
    if n_new > free:
        raise ConfigError(
            f"name pools too small for new_individuals={n_new}: the population's name pools "
            f"leave room for {max(free, 0)} more; add fewer"
        )
    config = dataclasses.replace(population.config, n_individuals=population.n_seen + n_new)
    n_mid, n_last = len(names.middle), len(names.last)
    used = (population.name_ids.astype(np.int64) * [n_mid * n_last, n_last, 1]).sum(1)
    rng = generator(seed, NEW_INDIVIDUALS)
    codes = np.empty(0, dtype=np.int64)
    while len(codes) < n_new:  # rejection: at most half the names are taken (config check)
        draw = rng.integers(names.n_combinations, size=2 * n_new)
        _, first = np.unique(draw, return_index=True)
        draw = draw[np.sort(first)]  # distinct, in draw order
        fresh = draw[~np.isin(draw, used) & ~np.isin(draw, codes)]
        codes = np.concatenate([codes, fresh])[:n_new]
    name_ids = np.stack([codes // (n_mid * n_last), (codes // n_last) % n_mid, codes % n_last], 1)
    ks = np.array([pool.cardinality for pool in population.pools.values()])
    values = (rng.random((n_new, len(ks))) * ks).astype(np.int32)
    offsets = rng.integers(config.templates, size=(n_new, len(ks)), dtype=np.int16)
    seen = slice(0, population.n_seen)
    unseen = slice(population.n_seen, None)

    def insert(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        return np.concatenate([old[seen], new.astype(old.dtype), old[unseen]])

    return dataclasses.replace(
        population,
        config=config,
        name_ids=insert(population.name_ids, name_ids),
        values=insert(population.values, values),
        template_offsets=insert(population.template_offsets, offsets),
    )
