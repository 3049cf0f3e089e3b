"""What the console's pages over the destination cloud's operations show (seed 004's snapshots, runbooks, metering
and copilot apps): rows read through each app's selectors and services, so the console and the REST API show the same
figures. Nothing here calls our own API; the pages act through the same services the API does."""
from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from apps.copilot import services as copilot_services
from apps.copilot import suggestions as copilot_suggestions
from apps.metering import reports
from apps.metering.models import MeteringSettings
from apps.portal import dashboards
from apps.runbooks import catalog
from apps.runbooks.choices import CANCELLABLE, ExecutionStatus
from apps.runbooks.models import Execution
from apps.snapshots import selectors as snapshot_selectors
from apps.snapshots import services as snapshot_services
from apps.snapshots.choices import VolumeOutcome
from apps.snapshots.models import RestoreJob, SnapshotPolicy, SnapshotRun

RECENT = 20
# The chargeback windows an operator picks from (hours), as the metering API's `hours` takes them.
PERIODS = {"24": "Last 24 hours", "168": "Last 7 days", "720": "Last 30 days", "2160": "Last 90 days"}
# The metering API's CSV exports (apps/metering/api/urls.py), linked: the browser downloads them with the session.
EXPORTS = (("chargeback", "Chargeback"), ("resources", "Resources"), ("snapshots", "Snapshots"),
           ("restores", "Restores"), ("api-usage", "API usage"), ("efficiency", "Efficiency"))

# -- snapshots ----------------------------------------------------------------------------------------


def snapshots_page() -> dict:
    policies = list(SnapshotPolicy.objects.annotate(assignment_total=Count("assignments"))
                    .prefetch_related("assignments").order_by("name"))
    runs = list(SnapshotRun.objects.annotate(
        volumes_done=Count("volumes", filter=~Q(volumes__status=VolumeOutcome.PENDING)))[:RECENT])
    return {
        "policies": policies,
        "compliance": snapshot_selectors.policy_compliance(policies),
        "sla": dashboards.snapshot_sla(2),
        "runs": runs,
        "active_run": snapshot_selectors.active_run(),
        "pipeline": snapshot_services.pipeline_latest(),
        "restores": list(RestoreJob.objects.select_related("original_job")[:RECENT]),
    }


def snapshot_run_page(run: SnapshotRun) -> dict:
    return snapshot_selectors.progress(run)


# -- runbooks ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One runbook parameter as a form field: its schema (apps/runbooks/catalog.py) and what the form shows."""

    name: str
    spec: dict
    required: bool
    value: object  # the text shown; for a list of choices, the ticked ones
    secret: bool = False

    @property
    def kind(self) -> str:
        return self.spec.get("type", "string")

    @property
    def choices(self) -> list:
        return self.spec.get("enum") or self.spec.get("items", {}).get("enum") or []

    @property
    def ticks(self) -> bool:
        """A list of fixed choices: one checkbox each."""
        return self.kind == "array" and bool(self.choices)

    @property
    def checked(self) -> bool:
        return self.value in ("true", "on")

    @property
    def help(self) -> str:
        parts = [self.spec.get("description", "")]
        if self.kind == "array":
            parts.append("comma-separated")
        if "minimum" in self.spec or "maximum" in self.spec:
            parts.append(f"{self.spec.get('minimum', '')}-{self.spec.get('maximum', '')}")
        if "default" in self.spec:
            default = self.spec["default"]
            parts.append(f"default {', '.join(map(str, default)) if isinstance(default, list) else default}")
        return "; ".join(p for p in parts if p)


def _shown(value) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, bool):
        return "true" if value else ""
    return "" if value is None else str(value)


def parameter_fields(runbook: catalog.Runbook, data=None) -> list[Field]:
    """The form's fields, filled from what was posted (a refused form keeps what was typed) or the defaults."""
    fields = []
    for name, spec in runbook.properties.items():
        secret = name in runbook.secret_params
        ticks = spec.get("type") == "array" and spec.get("items", {}).get("enum")
        if ticks:
            value = data.getlist(f"p_{name}") if data is not None else list(spec.get("default") or [])
        elif secret:
            value = ""  # a password typed is never sent back into the page
        elif data is not None:
            value = data.get(f"p_{name}", "")
        else:
            value = _shown(spec.get("default"))
        fields.append(Field(name, spec, name in runbook.required, value, secret))
    return fields


def _typed(spec: dict, raw: str):
    """A form's text as the type the schema asks for; text that is not one is passed on as typed, so the runbook's
    own validation (catalog.validate) refuses it naming the parameter."""
    kind = spec.get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            value = float(raw)
            return value if math.isfinite(value) else raw  # "nan" would slip past the schema's minimum and maximum
    except ValueError:
        return raw
    if kind == "array":
        return [_typed(spec.get("items", {}), item.strip()) for item in raw.split(",") if item.strip()]
    return raw


def parameters_from(runbook: catalog.Runbook, data) -> dict:
    """The posted form as the trigger's `parameters`: a box left empty takes the runbook's default."""
    given = {}
    for name, spec in runbook.properties.items():
        if spec.get("type") == "boolean":
            given[name] = data.get(f"p_{name}") in ("on", "true", "yes")
            continue
        if spec.get("type") == "array" and spec.get("items", {}).get("enum"):
            given[name] = data.getlist(f"p_{name}")
            continue
        raw = (data.get(f"p_{name}") or "").strip()
        if raw:
            given[name] = _typed(spec, raw)
    return given


def runbooks_page() -> dict:
    return {
        "runbooks": list(catalog.CATALOG.values()),
        "pending": list(Execution.objects.filter(status=ExecutionStatus.PENDING_APPROVAL)
                        .order_by("triggered_at", "id")),
        "executions": list(Execution.objects.all()[:RECENT]),
    }


def runbook_page(runbook: catalog.Runbook, data=None) -> dict:
    return {"runbook": runbook, "fields": parameter_fields(runbook, data),
            "executions": list(Execution.objects.filter(runbook_name=runbook.name)[:RECENT])}


def execution_page(execution: Execution) -> dict:
    runbook = catalog.get(execution.runbook_name)
    result = execution.result or {}
    return {"execution": execution, "runbook": runbook,
            # A secret given (a chosen password) shows only as set, as the API's answers show it.
            "parameters": catalog.without_secrets(execution.runbook_name, execution.parameters or {}),
            "result": result, "result_rows": _result_rows(result), "cancellable": execution.status in CANCELLABLE,
            # The history keeps ISO times (JSON); the page shows them as its other times.
            "history": [{**h, "at": parse_datetime(h.get("at") or "")} for h in execution.approval_history or []]}


def _result_rows(result: dict) -> list[tuple[str, object]]:
    """The result's top-level entries, each list of records kept whole for the template to draw as a table."""
    rows = []
    for key, value in result.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns = list(dict.fromkeys(k for v in value for k in v))
            rows.append((key, {"columns": columns, "rows": [[v.get(c, "") for c in columns] for v in value]}))
        else:
            rows.append((key, value))
    return rows


# -- metering ----------------------------------------------------------------------------------------


def metering_page(hours: str, project: str) -> dict:
    hours = hours if hours in PERIODS else "720"
    # The page's columns group the chargeback's categories (the CSV keeps each one).
    rows = [{**r, "compute_total": r["compute_cost"] + r["flavor_cost"],
             "storage_total": r["storage_cost"] + r["volume_cost"], "other_total": r["restore_cost"] + r["network_cost"]}
            for r in reports.chargeback(project=project or None, hours=int(hours))]
    totals = {key: sum(r[key] for r in rows) for key in ("total_cost", "vm_hours", "storage_gb_months",
                                                         "snapshot_gb_months")}
    return {"hours": hours, "periods": PERIODS, "project": project, "rows": rows, "totals": totals,
            "currency": rows[0]["currency"] if rows else MeteringSettings.load().cost_currency,
            "overview": reports.overview(project=project or None), "exports": exports(hours, project)}


def exports(hours: str, project: str) -> list[tuple[str, str]]:
    """Each CSV export's link for the period and tenant shown (the API's own parameters)."""
    query = urlencode({"hours": hours, **({"project": project} if project else {})})
    return [(label, f"{reverse(f'metering-export-{name}')}?{query}") for name, label in EXPORTS]


# -- copilot -----------------------------------------------------------------------------------------


def copilot_page(user) -> dict:
    return {"categories": copilot_suggestions.CATEGORIES, "tips": copilot_suggestions.TIPS,
            "history": list(copilot_services.history(user)[:RECENT])}
