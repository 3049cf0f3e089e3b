"""A VM's efficiency: how close its CPU, RAM and disk use come to what it was given.

A dimension scores 100 at 70% used and falls linearly to 0 at 0% and at 140% (over-committed); the overall score is
their mean. A VM that is not running, or runs below 5% CPU, is `idle`; otherwise excellent >= 80, good >= 60,
fair >= 40, else poor.
"""
from __future__ import annotations

from .choices import Classification
from .models import EfficiencySample, ResourceSample

IDEAL = 70.0
IDLE_CPU = 5.0


def _score(used_percent: float) -> float:
    return round(max(0.0, 100 - abs(used_percent - IDEAL) * 100 / IDEAL), 1)


def classify(overall: float, running: bool, cpu: float) -> str:
    if not running or cpu < IDLE_CPU:
        return Classification.IDLE
    for floor, name in ((80, Classification.EXCELLENT), (60, Classification.GOOD), (40, Classification.FAIR)):
        if overall >= floor:
            return name
    return Classification.POOR


def _recommendation(classification: str, scores: dict[str, float], usage: dict[str, float]) -> str:
    if classification == Classification.IDLE:
        return "Idle: consider stopping or removing the VM"
    worst = min(scores, key=scores.get)
    if scores[worst] >= 80:
        return "Well sized"
    return f"Consider right-sizing {worst} allocation" if usage[worst] < IDEAL else f"Consider adding {worst}"


def score(sample: ResourceSample) -> EfficiencySample:
    usage = {"cpu": sample.cpu_usage_percent, "ram": sample.ram_usage_percent, "disk": sample.disk_usage_percent}
    scores = {name: _score(value) for name, value in usage.items()}
    overall = round(sum(scores.values()) / 3, 1)
    classification = classify(overall, sample.power_state == "running", sample.cpu_usage_percent)
    return EfficiencySample(
        collected_at=sample.collected_at, period_min=sample.period_min, vm_id=sample.vm_id, vm_name=sample.vm_name,
        project_name=sample.project_name, domain=sample.domain, cpu_score=scores["cpu"], ram_score=scores["ram"],
        disk_score=scores["disk"], overall_score=overall, classification=classification,
        recommendation=_recommendation(classification, scores, usage))
