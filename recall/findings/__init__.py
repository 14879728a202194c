"""The study's findings, one module each: its runs, its effect and its threshold.

FINDINGS is the report's order. recall.reproduce runs what they need over seeds and
judges each one with recall.findings.base.
"""

from __future__ import annotations

from recall.findings.attention_stability import AttentionStability
from recall.findings.attribute_to_name import AttributeToName
from recall.findings.base import Finding
from recall.findings.celebrities import Celebrities
from recall.findings.confidence import Confidence
from recall.findings.forgetting import Forgetting
from recall.findings.hallucination import Hallucination
from recall.findings.imbalance import Imbalance
from recall.findings.name_to_name import NameToName
from recall.findings.patching_early import PatchingEarly
from recall.findings.patching_late import PatchingLate
from recall.findings.plateau_scaling import PlateauScaling
from recall.findings.replay_final import ReplayFinal
from recall.findings.replay_initial_drop import ReplayInitialDrop
from recall.findings.three_phases import ThreePhases
from recall.findings.warmup import Warmup

FINDINGS: tuple[Finding, ...] = (
    ThreePhases(),
    PlateauScaling(),
    AttributeToName(),
    NameToName(),
    PatchingLate(),
    PatchingEarly(),
    Imbalance(),
    Celebrities(),
    Warmup(),
    Hallucination(),
    Confidence(),
    Forgetting(),
    ReplayInitialDrop(),
    ReplayFinal(),
    AttentionStability(),
)
