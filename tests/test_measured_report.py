"""The committed reproduction (reports/measured/) is whole and agrees with its own numbers:
every verdict follows from its per-seed effects, over at least the seeds each finding asks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from recall.findings import FINDINGS
from tests.conftest import assert_judged_from_its_seeds

MEASURED = Path(__file__).resolve().parents[1] / "reports" / "measured"


@pytest.fixture(scope="module")
def rows() -> dict[str, dict]:
    return {r["id"]: r for r in json.loads((MEASURED / "findings.json").read_text())}


def test_every_finding_is_there_over_its_seeds(rows):
    assert list(rows) == [f.id for f in FINDINGS]
    for finding in FINDINGS:
        row = rows[finding.id]
        assert row["effect"] == finding.effect and row["threshold"] == finding.threshold
        assert len(row["per_seed"]) >= finding.min_seeds, (finding.id, row["failed_runs"])
        assert row["wall_s"] > 0


def test_each_verdict_follows_from_its_per_seed_effects(rows):
    for row in rows.values():
        assert_judged_from_its_seeds(row)


def test_the_report_shows_each_verdict_and_its_figures(rows):
    text = (MEASURED / "report.md").read_text()
    for finding in FINDINGS:
        shown = rf"\| {re.escape(finding.title)} \|.*\| \**{rows[finding.id]['verdict']}\** \|"
        assert re.search(shown, text), finding.id
    figures = re.findall(r"\]\(figures/([\w.]+\.png)\)", text)
    assert figures and all((MEASURED / "figures" / f).is_file() for f in figures)
