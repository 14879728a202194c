import re

import numpy as np
import pytest

from recall.data.pools import ATTRIBUTES
from recall.data.templates import (
    FRAMES,
    MAX_TEMPLATES,
    Template,
    TemplateSplit,
    build_templates,
)
from recall.errors import ConfigError

ALL_FRAMES = [(attribute, frame) for attribute in ATTRIBUTES for frame in FRAMES[attribute]]
PRONOUNS = re.compile(
    r"\b(he|she|his|her|hers|him|himself|herself|they|them|their|theirs|themselves)\b",
    re.IGNORECASE,
)
EXAMPLE_VALUES = {
    "birth_date": ["12 March 1975", "1 January 1950"],
    "birth_city": ["Kalomir", "Port Kalomir"],
    "university": ["University of Bratisu", "Kemaro Institute"],
    "major": ["Applied Physics", "Linguistics"],
    "company": ["Dorabi Systems", "Vetan Labs"],
    "current_city": ["Zurano", "New Zurano"],
}


def outside_placeholders(frame: str) -> str:
    return frame.replace("{name}", "").replace("{value}", "")


def test_every_attribute_has_max_templates_frames():
    assert list(FRAMES) == list(ATTRIBUTES)
    assert MAX_TEMPLATES == 25
    for attribute in ATTRIBUTES:
        assert len(FRAMES[attribute]) == MAX_TEMPLATES, attribute


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_frames_and_their_text_before_the_value_are_all_different(attribute):
    frames = FRAMES[attribute]
    assert len(set(frames)) == len(frames)
    middles = [Template.from_frame(f).before_value.strip() for f in frames]
    assert len(set(middles)) == len(middles), [m for m in middles if middles.count(m) > 1]
    assert all(middles), "the value must not follow the name directly"


@pytest.mark.parametrize(("attribute", "frame"), ALL_FRAMES)
def test_frame_has_one_name_before_one_value(attribute, frame):
    assert frame.count("{name}") == 1
    assert frame.count("{value}") == 1
    assert frame.index("{name}") < frame.index("{value}")
    assert "{" not in outside_placeholders(frame)
    assert "}" not in outside_placeholders(frame)


@pytest.mark.parametrize(("attribute", "frame"), ALL_FRAMES)
def test_frame_characters_and_spacing(attribute, frame):
    assert frame.endswith(".")
    assert frame.count(".") == 1, "one sentence per frame, the full stop at its end"
    text = outside_placeholders(frame)
    assert re.fullmatch(r"[A-Za-z ,.]*", text), text
    assert frame == frame.strip()
    assert "  " not in frame
    assert " ," not in frame
    assert " ." not in frame
    assert re.search(r",(?! )", frame) is None, "a comma is followed by a space"
    assert re.search(r"\bdo not\b", frame, re.IGNORECASE) is None
    assert PRONOUNS.search(text) is None, PRONOUNS.search(text)
    assert frame.startswith("{name}") or frame[0].isupper()


@pytest.mark.parametrize(("attribute", "frame"), ALL_FRAMES)
def test_pieces_are_separated_from_name_and_value_by_spaces(attribute, frame):
    t = Template.from_frame(frame)
    assert t.before_name == "" or t.before_name.endswith(" ")
    assert t.before_value.startswith((" ", ", "))
    assert t.before_value.endswith(" ")
    assert t.after_value.startswith((".", ",", " "))
    assert t.after_value.endswith(".")


def test_from_frame_splits_into_exact_pieces():
    t = Template.from_frame("{name} was born on {value}.")
    assert t == Template("{name} was born on {value}.", "", " was born on ", ".")
    t = Template.from_frame("According to the registry, {name} was born on {value}.")
    assert t.before_name == "According to the registry, "
    assert t.before_value == " was born on "
    assert t.after_value == "."
    t = Template.from_frame("{name} moved to {value} after graduating.")
    assert t.before_name == ""
    assert t.before_value == " moved to "
    assert t.after_value == " after graduating."


@pytest.mark.parametrize(
    "bad", ["{name} was born.", "{value} is the birth date of {name}.", "{name} {name} {value}."]
)
def test_from_frame_rejects_bad_frames(bad):
    with pytest.raises(ValueError):
        Template.from_frame(bad)


@pytest.mark.parametrize(("attribute", "frame"), ALL_FRAMES)
def test_pieces_rebuild_the_frame_and_render_the_sentence(attribute, frame):
    t = Template.from_frame(frame)
    assert t.frame == frame
    assert t.before_name + "{name}" + t.before_value + "{value}" + t.after_value == frame
    name = "Bravo Kelun Marisot"
    for value in EXAMPLE_VALUES[attribute]:
        sentence = t.render(name, value)
        assert sentence == frame.format(name=name, value=value)
        assert sentence == t.before_name + name + t.before_value + value + t.after_value
        assert sentence.startswith(t.before_name)
        assert sentence.index(name) < sentence.index(value)
        assert sentence.endswith(".")
        assert sentence[0].isupper()


def test_build_templates_gives_distinct_frames_in_a_fixed_shuffled_order():
    full = build_templates(list(ATTRIBUTES), MAX_TEMPLATES)
    assert list(full) == list(ATTRIBUTES)
    for attribute, templates in full.items():
        assert all(isinstance(t, Template) for t in templates)
        assert sorted(t.frame for t in templates) == sorted(FRAMES[attribute])
    assert any([t.frame for t in full[a]] != FRAMES[a] for a in ATTRIBUTES), "not shuffled"
    assert build_templates(list(ATTRIBUTES), MAX_TEMPLATES) == full  # deterministic
    # an attribute's order does not depend on the other attributes; fewer = a prefix
    assert build_templates(["major"], MAX_TEMPLATES)["major"] == full["major"]
    few = build_templates(["company", "birth_date"], 7)
    for attribute, templates in few.items():
        assert len(templates) == 7
        assert len({t.frame for t in templates}) == 7
        assert templates == full[attribute][:7]


@pytest.mark.parametrize("n", [0, 1, MAX_TEMPLATES + 1, 100])
def test_build_templates_rejects_a_bad_count(n):
    with pytest.raises(ConfigError, match=rf"^data.templates={n} must be between 2 and 25$"):
        build_templates(["major"], n)


def test_build_templates_accepts_the_bounds():
    assert len(build_templates(["major"], 2)["major"]) == 2
    assert len(build_templates(["major"], MAX_TEMPLATES)["major"]) == MAX_TEMPLATES


def test_build_templates_rejects_an_unknown_attribute():
    with pytest.raises(ConfigError, match="shoe_size") as info:
        build_templates(["major", "shoe_size"], 10)
    message = str(info.value)
    assert "\n" not in message
    for attribute in ATTRIBUTES:
        assert attribute in message


def test_heldout_frames_are_new_wordings_for_every_individual():
    split = TemplateSplit(25, 5)
    templates = build_templates(list(ATTRIBUTES), 25)
    offsets = np.random.default_rng(0).integers(25, size=1000)
    train = split.train_index(offsets[:, None], np.arange(split.n_train)[None, :])
    heldout = split.heldout_index(offsets[:, None], np.arange(split.heldout)[None, :])
    assert train.shape == (1000, 20)
    assert heldout.shape == (1000, 5)
    for i in range(len(offsets)):
        train_set, heldout_set = set(train[i].tolist()), set(heldout[i].tolist())
        assert len(train_set) == 20
        assert len(heldout_set) == 5
        assert train_set.isdisjoint(heldout_set)
        assert train_set | heldout_set == set(range(25))
        for attribute in ATTRIBUTES:
            ts = templates[attribute]
            train_middles = {ts[t].before_value.strip() for t in train_set}
            for h in heldout_set:
                assert ts[h].before_value.strip() not in train_middles, (i, attribute, h)


def test_template_split_validates():
    with pytest.raises(ConfigError, match="data.heldout_templates=25"):
        TemplateSplit(25, 25)
    with pytest.raises(ConfigError, match="data.heldout_templates=0"):
        TemplateSplit(25, 0)
    assert TemplateSplit(25, 5).n_train == 20
