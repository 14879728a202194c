"""Sentence templates: 25 genuinely distinct sentence frames per attribute.

A frame such as ``"According to the civil registry, {name} entered the world on {value}."``
renders one fact about one individual. The full name always comes before the value, so the
value can only be predicted by recalling the individual.

Each individual has its own split of an attribute's frames into training and held-out ones
(`TemplateSplit`: a cyclic window at a per-individual offset). Within an attribute, no two
frames share the text between the name and the value, so a held-out frame is a wording the
model never saw for that individual: the words that lead up to the value are new. Held-out
accuracy therefore measures knowledge of the individual, not memorised text. (Frames built
as openers x predicates would not do this: the held-out text before the value would always
also appear among the individual's training templates.)

Frame style, which the tests check: plain ASCII words, spaces, "," and a final "."; no
digits, hyphens or apostrophes; no pronouns (the name is repeated instead); never "do not"
(tokenizer decoders rewrite it). Values look like "12 March 1975", "Port Kalomir",
"University of Bratisu", "Kemaro Institute", "Applied Physics" or "Dorabi Systems".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recall.errors import ConfigError

NAME = "{name}"
VALUE = "{value}"

# One entry per attribute of `recall.data.pools.ATTRIBUTES`, in the same order (pools imports
# this module, so the attribute list cannot be imported from there).
FRAMES: dict[str, list[str]] = {
    "birth_date": [
        "{name} was born on {value}.",
        "{name} came into the world on {value}.",
        "According to the civil registry, {name} entered the world on {value}.",
        "The birth of {name} took place on {value}.",
        "{name} has a birth date of {value}.",
        "Records show that {name} was delivered on {value}.",
        "{name} first saw the light of day on {value}.",
        "The date of birth of {name} is listed as {value}.",
        "{name} entered life on {value}.",
        "The life of {name} began on {value}.",
        "{name} lists {value} as the date of birth.",
        "On official papers, the birth date of {name} reads {value}.",
        "{name} drew a first breath on {value}.",
        "The story of {name} starts on {value}.",
        "The birth certificate of {name} is dated {value}.",
        "{name} was brought into the world on {value}.",
        "{name} has been alive since {value}.",
        "{name} celebrates a birthday every year, having been born on {value}.",
        "{name} is recorded as born on {value}.",
        "{name} arrived on {value}, as the records confirm.",
        "As family records tell, {name} was a newborn on {value}.",
        "{name} came to life on {value}.",
        "The birthday of {name} traces back to {value}.",
        "In the town records, {name} appears as born on {value}.",
        "The official birth date for {name} is {value}.",
    ],
    "birth_city": [
        "{name} was born in {value}.",
        "{name} hails from {value}.",
        "{name} has {value} as a birthplace.",
        "{name} spent early childhood in {value}.",
        "The birthplace of {name} is {value}.",
        "According to the civil registry, {name} was delivered in a hospital in {value}.",
        "{name} came into the world in the city of {value}.",
        "{name} is a native of {value}.",
        "{name} originally comes from {value}.",
        "The hometown of {name} is the city of {value}.",
        "{name} was raised from birth in {value}.",
        "Records show that {name} entered the world in {value}.",
        "{name} took a first breath in {value}.",
        "The life of {name} began in {value}.",
        "{name} counts {value} as the place of birth.",
        "{name} first saw the light of day in {value}.",
        "The story of {name} starts in {value}.",
        "{name} was born and raised in {value}.",
        "The birth certificate of {name} was issued in {value}.",
        "By birth, {name} belongs to the city of {value}.",
        "{name} spent the first years of life in {value}.",
        "The birth of {name} took place in {value}.",
        "{name} started life in {value}.",
        "{name} was born in the town of {value}.",
        "{name} proudly names {value} as the city of birth.",
    ],
    "university": [
        "{name} studied at {value}.",
        "{name} graduated from {value}.",
        "{name} attended {value}.",
        "{name} received an education at {value}.",
        "{name} was a student at {value}.",
        "{name} earned a degree from {value}.",
        "The alma mater of {name} is {value}.",
        "According to the alumni list, {name} completed a degree at {value}.",
        "{name} enrolled at {value}.",
        "{name} spent the student years at {value}.",
        "{name} holds a diploma from {value}.",
        "The university education of {name} took place at {value}.",
        "{name} went to {value} for higher education.",
        "{name} is a graduate of {value}.",
        "{name} took classes at {value}.",
        "{name} was admitted to {value}.",
        "The diploma of {name} comes from {value}.",
        "{name} pursued higher studies at {value}.",
        "{name} completed undergraduate studies at {value}.",
        "Records show that {name} studied for four years at {value}.",
        "{name} received academic training at {value}.",
        "{name} was educated at {value}.",
        "{name} spent several years on the campus of {value}.",
        "The academic home of {name} was {value}.",
        "{name} chose {value} for a university education.",
    ],
    "major": [
        "{name} majored in {value}.",
        "{name} studied the field of {value}.",
        "{name} specialized in {value}.",
        "{name} completed a degree in {value}.",
        "The major of {name} was {value}.",
        "{name} focused on {value} at university.",
        "{name} earned a diploma in {value}.",
        "According to the transcript, {name} concentrated on {value}.",
        "{name} chose {value} as a major.",
        "{name} trained in the discipline of {value}.",
        "{name} pursued studies in {value}.",
        "The field of study of {name} was mainly {value}.",
        "{name} took most courses in {value}.",
        "{name} graduated with a major in {value}.",
        "{name} devoted the university years to {value}.",
        "{name} read {value} at university.",
        "{name} has an academic background in {value}.",
        "{name} wrote a thesis in {value}.",
        "The academic subject of {name} at university was {value}.",
        "{name} studied {value}.",
        "{name} was trained as a specialist in {value}.",
        "{name} followed a program in {value}.",
        "The degree of {name} is in {value}.",
        "{name} signed up for a major in {value}.",
        "Over several years, {name} learned the craft of {value}.",
    ],
    "company": [
        "{name} works for {value}.",
        "{name} is employed by {value}.",
        "{name} holds a job at {value}.",
        "{name} earns a living at {value}.",
        "{name} has a position at {value}.",
        "The employer of {name} is {value}.",
        "According to the payroll, {name} draws a salary from {value}.",
        "{name} is on the staff of {value}.",
        "{name} works as an employee of {value}.",
        "{name} goes to work at {value} every weekday.",
        "{name} is a member of the team at {value}.",
        "{name} was hired by {value}.",
        "{name} collects a paycheck from {value}.",
        "The current job of {name} is with {value}.",
        "{name} has a career at {value}.",
        "{name} spends the working week at {value}.",
        "{name} is on the payroll of {value}.",
        "{name} serves as a staff member at {value}.",
        "{name} works full time for {value}.",
        "The workplace of {name} is at {value}.",
        "{name} accepted a job offer from {value}.",
        "{name} is currently employed at {value}.",
        "{name} reports to a manager at {value}.",
        "{name} signed an employment contract with {value}.",
        "{name} joined the workforce of {value}.",
    ],
    "current_city": [
        "{name} lives in {value}.",
        "{name} resides in {value}.",
        "{name} now calls {value} home.",
        "{name} has settled in {value}.",
        "{name} currently lives in {value}.",
        "The current home of {name} is in {value}.",
        "According to the latest census, {name} is a resident of {value}.",
        "{name} moved to {value} after graduating.",
        "{name} rents an apartment in {value}.",
        "{name} makes a home in {value} these days.",
        "These days, {name} can be found living in {value}.",
        "{name} is based in {value}.",
        "The present address of {name} lies in {value}.",
        "{name} has an address in {value}.",
        "{name} dwells in {value}.",
        "{name} relocated to {value} some years ago.",
        "{name} now lives in the city of {value}.",
        "{name} owns a house in {value}.",
        "At present, {name} stays in {value}.",
        "The city where {name} lives is {value}.",
        "{name} has made {value} a permanent home.",
        "{name} is a current inhabitant of {value}.",
        "{name} has been living in {value} for a while.",
        "Mail for {name} goes to an address in {value}.",
        "{name} put down roots in {value}.",
    ],
}
MAX_TEMPLATES = 25
"""Frames per attribute; `data.templates` may use any number in [2, MAX_TEMPLATES]."""

_ORDER_SEED = 0


@dataclass(frozen=True)
class Template:
    """One frame of one attribute, split into the text pieces around the name and the value.

    ``before_name + name + before_value + value + after_value`` is the rendered sentence;
    the pieces keep their spaces and `after_value` ends with the full stop.
    """

    frame: str
    before_name: str
    before_value: str
    after_value: str

    @classmethod
    def from_frame(cls, frame: str) -> Template:
        """Parse a frame with exactly one ``{name}`` followed later by one ``{value}``."""
        if frame.count(NAME) != 1 or frame.count(VALUE) != 1:
            raise ValueError(f"frame {frame!r} needs exactly one {NAME} and one {VALUE}")
        before_name, rest = frame.split(NAME)
        if VALUE not in rest:
            raise ValueError(f"frame {frame!r} must name {NAME} before {VALUE}")
        before_value, after_value = rest.split(VALUE)
        if any(c in piece for piece in (before_name, before_value, after_value) for c in "{}"):
            raise ValueError(f"frame {frame!r} has a placeholder other than {NAME} and {VALUE}")
        return cls(frame, before_name, before_value, after_value)

    def render(self, name: str, value: str) -> str:
        """The sentence stating `value` about the individual called `name`."""
        return self.before_name + name + self.before_value + value + self.after_value


def build_templates(attributes: list[str], n_templates: int) -> dict[str, list[Template]]:
    """`n_templates` distinct templates per attribute, in a fixed shuffled order.

    Each attribute's order comes from its own seeded permutation, so it does not depend on
    which other attributes are requested, and fewer templates are a prefix of more.
    """
    if not 2 <= n_templates <= MAX_TEMPLATES:
        raise ConfigError(f"data.templates={n_templates} must be between 2 and {MAX_TEMPLATES}")
    templates = {}
    for attribute in attributes:
        if attribute not in FRAMES:
            raise ConfigError(
                f"unknown attribute {attribute!r}: the known ones are {', '.join(FRAMES)}"
            )
        rng = np.random.default_rng([_ORDER_SEED, list(FRAMES).index(attribute)])
        order = rng.permutation(len(FRAMES[attribute]))[:n_templates]
        templates[attribute] = [Template.from_frame(FRAMES[attribute][i]) for i in order]
    return templates


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
