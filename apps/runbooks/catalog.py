"""The runbook catalog: each runbook's definition (seed 004's fields) and its procedure against CloudStack.

A procedure gets a `Run` (the client, the validated parameters, whether it is a dry run, a cancel check) and returns
its result with the counts of items found and actioned. A dry run reads CloudStack and reports what the real run
would do; it never calls a command that changes anything.
"""
from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.core import crypto
from apps.core.exceptions import InvalidInput
from apps.portal import models as portal
from apps.settings import cloudstack as cs
from apps.snapshots import cloud as snap_cloud
from apps.snapshots.models import SnapshotPolicy

from . import cloud

_NAMESPACE = uuid.UUID("6d1f0a52-3c1e-4f43-9d0c-2f5b1e7a9c10")


class Cancelled(Exception):
    """The execution was cancelled between two items."""


@dataclass
class Run:
    client: cs.CloudStackClient
    params: dict
    dry_run: bool
    cancelled: Callable[[], bool] = lambda: False

    def checkpoint(self) -> None:
        if self.cancelled():
            raise Cancelled


@dataclass(frozen=True)
class Runbook:
    name: str
    display_name: str
    description: str
    category: str
    risk_level: str  # low | medium | high: medium and high real runs wait for an approver by default
    properties: dict
    procedure: Callable[[Run], tuple[dict, int, int]]
    required: tuple[str, ...] = ()
    supports_dry_run: bool = True
    enabled: bool = True
    secret_params: tuple[str, ...] = ()  # shown masked in every answer, masked in the record once the run is over
    extra: dict = field(default_factory=dict)

    @property
    def runbook_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, self.name))

    @property
    def parameters_schema(self) -> dict:
        schema = {"type": "object", "properties": self.properties}
        if self.required:
            schema["required"] = list(self.required)
        return schema

    @property
    def risky(self) -> bool:
        return self.risk_level in ("medium", "high")


def validate(runbook: Runbook, given) -> dict:
    """The parameters with defaults filled in, checked against the runbook's schema; 400 naming the first wrong one."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InvalidInput("parameters must be an object")
    unknown = sorted(set(given) - set(runbook.properties))
    if unknown:
        raise InvalidInput(f"parameters.{unknown[0]} is not a parameter of {runbook.name}")
    out = {}
    for name, spec in runbook.properties.items():
        if name not in given:
            if name in runbook.required:
                raise InvalidInput(f"parameters.{name} is required")
            if "default" in spec:
                out[name] = spec["default"]
            continue
        out[name] = _check(f"parameters.{name}", spec, given[name])
    return out


def _check(where: str, spec: dict, value):
    kind = spec["type"]
    if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        raise InvalidInput(f"{where} must be a whole number")
    if kind == "number" and not (isinstance(value, int | float) and not isinstance(value, bool)):
        raise InvalidInput(f"{where} must be a number")
    if kind == "boolean" and not isinstance(value, bool):
        raise InvalidInput(f"{where} must be true or false")
    if kind == "string" and not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string")
    if kind == "string" and len(value) > spec.get("maxLength", 255):
        raise InvalidInput(f"{where} is longer than {spec.get('maxLength', 255)} characters")
    if kind in ("integer", "number"):
        if value < spec.get("minimum", value) or value > spec.get("maximum", value):
            raise InvalidInput(f"{where} must be from {spec.get('minimum')} to {spec.get('maximum')}")
    if kind == "array":
        if not isinstance(value, list):
            raise InvalidInput(f"{where} must be a list")
        return [_check(f"{where}[{i}]", spec["items"], item) for i, item in enumerate(value)]
    if "enum" in spec and value not in spec["enum"]:
        raise InvalidInput(f"{where} must be one of {', '.join(map(str, spec['enum']))}")
    return value


# -- procedures -------------------------------------------------------------------------------------

STUCK_STATES = ("Error", "Starting", "Stopping", "Migrating")


def _vm_line(vm: dict, minutes: float) -> dict:
    return {"id": vm["id"], "name": vm.get("name", ""), "state": vm.get("state", ""),
            "minutes_in_state": int(minutes), "project": vm.get("project") or vm.get("account") or "",
            "domain": vm.get("domain", "")}


def _hard_reboot(client: cs.CloudStackClient, vm_id: str) -> None:
    # A VM whose job was lost stops only when forced (CloudStack then marks it Stopped); it starts from there.
    client.stop_virtual_machine(vm_id, forced=True)
    client.start_virtual_machine(vm_id)


def _soft_reboot(client: cs.CloudStackClient, vm: dict) -> None:
    if vm.get("state") == "Running":
        client.run_job("rebootVirtualMachine", "virtualmachine", id=vm["id"])
        return
    client.stop_virtual_machine(vm["id"])  # CloudStack refuses this for a VM stuck mid-transition: use hard_reboot
    client.start_virtual_machine(vm["id"])


def stuck_vm_remediation(run: Run) -> tuple[dict, int, int]:
    p = run.params
    lines, actioned = [], 0
    for vm in run.client.list_everywhere("listVirtualMachines"):
        if vm.get("state") not in STUCK_STATES or not cloud.in_scope(vm, p["target_project"], p["target_domain"]):
            continue
        minutes = cloud.age_minutes(vm, "lastupdated", "created")
        if minutes < p["stuck_threshold_minutes"]:
            continue
        line = _vm_line(vm, minutes)
        line["action"] = p["action"]
        if vm["state"] == "Error":
            # A failed deployment: CloudStack neither starts nor reboots it; it is destroyed and deployed again.
            line["outcome"] = "needs_redeploy"
        elif p["action"] == "report_only" or run.dry_run:
            line["outcome"] = "would_" + p["action"] if p["action"] != "report_only" else "reported"
        else:
            run.checkpoint()
            try:
                (_hard_reboot(run.client, vm["id"]) if p["action"] == "hard_reboot"
                 else _soft_reboot(run.client, vm))
                line["outcome"] = "remediated"
                line["state_after"] = run.client.get_vm(vm["id"]).get("state", "")
                actioned += 1
            except cs.CloudStackError as exc:
                line.update(outcome="failed", error=str(exc))
        lines.append(line)
    return {"stuck_vms": lines}, len(lines), actioned


def orphan_resource_cleanup(run: Run) -> tuple[dict, int, int]:
    p = run.params
    known = cloud.known_resource_ids()
    threshold = p["age_threshold_days"] * 24 * 60
    result: dict[str, list] = {}
    found = actioned = 0
    volumes = run.client.list_everywhere("listVolumes")
    if "volumes" in p["resource_types"]:
        orphans = [v for v in volumes
                   if v.get("type") == "DATADISK" and not v.get("virtualmachineid") and v["id"] not in known
                   and v.get("state") not in ("Destroy", "Expunging", "Expunged")
                   and cloud.in_scope(v, p["target_project"]) and cloud.age_minutes(v, "created") >= threshold]
        result["orphan_volumes"] = [_remove(run, v, "volume") for v in orphans]
    if "snapshots" in p["resource_types"]:
        live = {v["id"] for v in volumes if v.get("state") not in ("Destroy", "Expunging", "Expunged")}
        orphans = [s for s in run.client.list_everywhere("listSnapshots")
                   if s.get("volumeid") not in live and s["id"] not in known
                   and cloud.in_scope(s, p["target_project"]) and cloud.age_minutes(s, "created") >= threshold]
        result["orphan_snapshots"] = [_remove(run, s, "snapshot") for s in orphans]
    for lines in result.values():
        found += len(lines)
        actioned += sum(1 for line in lines if line["outcome"] == "deleted")
    return result, found, actioned


def _remove(run: Run, record: dict, kind: str) -> dict:
    line = {"id": record["id"], "name": record.get("name", ""), "project": record.get("project") or
            record.get("account") or "", "created": record.get("created", ""),
            "age_days": round(cloud.age_minutes(record, "created") / 1440, 1)}
    if kind == "volume":
        line["size_gb"] = int(record.get("size") or 0) // 2**30
    if run.dry_run:
        line["outcome"] = "would_delete"
        return line
    run.checkpoint()
    try:
        if kind == "volume":
            run.client.delete_volume(record["id"])
        else:
            run.client.delete_snapshot(record["id"])
        line["outcome"] = "deleted"
    except cs.CloudStackNotFoundError:
        line["outcome"] = "already_gone"
    except cs.CloudStackError as exc:
        line.update(outcome="failed", error=str(exc))
    return line


def _server(run: Run) -> dict:
    try:
        return run.client.get_vm(run.params["server_id"])
    except cs.CloudStackNotFoundError:
        raise InvalidInput(f"parameters.server_id: no VM {run.params['server_id']} in CloudStack") from None


def vm_health_quickfix(run: Run) -> tuple[dict, int, int]:
    vm = _server(run)
    volumes = run.client.list_volumes(vm_id=vm["id"])
    issues = []
    if vm.get("state") != "Running":
        issues.append(f"VM is {vm.get('state')}, not Running")
    if vm.get("state") == "Running" and not vm.get("hostid"):
        issues.append("VM is Running on no host")
    for volume in volumes:
        if volume.get("state") != "Ready":
            issues.append(f"volume {volume.get('name')} is {volume.get('state')}")
    if not vm.get("nic"):
        issues.append("VM has no NIC")
    result = {"server_id": vm["id"], "name": vm.get("name", ""), "state": vm.get("state", ""),
              "host": vm.get("hostname", ""), "volumes": [{"id": v["id"], "name": v.get("name", ""),
                                                            "state": v.get("state", "")} for v in volumes],
              "issues": issues, "restart": "not_requested"}
    actioned = 0
    if issues and run.params["auto_restart"]:
        if vm.get("state") == "Error":
            result["restart"] = "not_possible: a VM in Error is redeployed, not restarted"
        elif run.dry_run:
            result["restart"] = f"would_{run.params['restart_type']}_restart"
        else:
            try:
                if run.params["restart_type"] == "hard" or vm.get("state") in STUCK_STATES:
                    _hard_reboot(run.client, vm["id"])
                elif vm.get("state") == "Stopped":
                    run.client.start_virtual_machine(vm["id"])
                else:
                    _soft_reboot(run.client, vm)
                result["restart"] = "done"
                result["state_after"] = run.client.get_vm(vm["id"]).get("state", "")
                actioned = 1
            except cs.CloudStackError as exc:
                result["restart"] = f"failed: {exc}"
    return result, len(issues), actioned


def snapshot_before_escalation(run: Run) -> tuple[dict, int, int]:
    vm = _server(run)
    p = run.params
    stem = "-".join(part for part in (p["tag_prefix"], p["reference_id"]) if part)
    lines, actioned = [], 0
    for volume in run.client.list_volumes(vm_id=vm["id"]):
        name = f"{stem}-{volume.get('name', volume['id'])}"[:255]
        line = {"volume_id": volume["id"], "volume_name": volume.get("name", ""), "snapshot_name": name}
        if run.dry_run:
            line["outcome"] = "would_snapshot"
        else:
            run.checkpoint()
            try:
                snap = run.client.create_snapshot(volume["id"], name=name)
                line.update(outcome="created", snapshot_id=snap.get("id", ""))
                actioned += 1
            except cs.CloudStackError as exc:
                line.update(outcome="failed", error=str(exc))
        lines.append(line)
    return {"server_id": vm["id"], "reference_id": p["reference_id"], "snapshots": lines}, len(lines), actioned


def cost_leakage_report(run: Run) -> tuple[dict, int, int]:
    p = run.params
    stopped = []
    for vm in run.client.list_everywhere("listVirtualMachines", state="Stopped"):
        days = cloud.age_minutes(vm, "lastupdated", "created") / 1440
        if days >= p["shutoff_days_threshold"]:
            stopped.append({**_vm_line(vm, days * 1440), "days_stopped": round(days, 1), "cpu": vm.get("cpunumber", 0),
                            "monthly_cost": round(float(vm.get("cpunumber") or 0) * p["price_per_vcpu_month"], 2)})
    detached = []
    for volume in run.client.list_everywhere("listVolumes"):
        days = cloud.age_minutes(volume, "created") / 1440
        if volume.get("virtualmachineid") or volume.get("state") in ("Destroy", "Expunging") \
                or days < p["detached_volume_days"]:
            continue
        size_gb = int(volume.get("size") or 0) // 2**30
        detached.append({"id": volume["id"], "name": volume.get("name", ""), "size_gb": size_gb,
                         "days_detached": round(days, 1),
                         "monthly_cost": round(size_gb * p["price_per_gb_volume_month"], 2)})
    total = sum(line["monthly_cost"] for line in stopped + detached)
    return ({"shutoff_vms": stopped, "detached_volumes": detached, "monthly_leakage": round(total, 2)},
            len(stopped) + len(detached), 0)


SENSITIVE_PORTS = {22: "SSH", 3389: "RDP", 3306: "MySQL", 5432: "PostgreSQL", 6379: "Redis", 27017: "MongoDB"}
OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def _rule_findings(rule: dict, wide_span: int, flag_wide: bool) -> list[str]:
    if rule.get("cidr") not in OPEN_CIDRS:
        return []
    protocol = (rule.get("protocol") or "all").lower()
    if protocol == "all":
        return ["all traffic open to the internet"]
    if protocol == "icmp":
        return []
    start, end = int(rule.get("startport") or 0), int(rule.get("endport") or 0)
    found = [f"{name} ({port}/{protocol}) open to the internet"
             for port, name in SENSITIVE_PORTS.items() if start <= port <= end]
    if flag_wide and end - start + 1 >= wide_span:
        found.append(f"ports {start}-{end}/{protocol} open to the internet")
    return found


def security_group_audit(run: Run) -> tuple[dict, int, int]:
    p = run.params
    lines = []
    for group in run.client.list_everywhere("listSecurityGroups"):
        if not cloud.in_scope(group, p["target_project"]):
            continue
        for rule in group.get("ingressrule") or []:
            for finding in _rule_findings(rule, p["wide_port_range_min"], p["flag_wide_port_ranges"]):
                lines.append({"security_group_id": group["id"], "security_group": group.get("name", ""),
                              "project": group.get("project") or group.get("account") or "",
                              "rule_id": rule.get("ruleid", ""), "vm_count": group.get("virtualmachinecount", 0),
                              "finding": finding})
    return {"findings": lines}, len(lines), 0


def _open_rules(flag_wide: bool) -> list[dict]:
    """Ingress rules open to the internet in the portal's collection of every tenant, with a severity."""
    open_rules = []
    for group in portal.SecurityGroup.objects.order_by("tenant_name", "name"):
        for rule in group.rules:
            if rule.get("direction", "ingress") != "ingress":
                continue
            for finding in _rule_findings(rule, 100, flag_wide):
                open_rules.append({"security_group_id": group.cloud_id, "security_group": group.name,
                                   "tenant": group.tenant_name, "domain": group.domain_name,
                                   "rule_id": rule.get("ruleid", ""), "vm_count": group.vm_count,
                                   "finding": finding, "severity": "critical" if "all traffic" in finding
                                   or finding.startswith(("SSH", "RDP")) else "high"})
    return open_rules


def security_compliance_audit(run: Run) -> tuple[dict, int, int]:
    """The security group audit over the portal's last collection of every tenant, platform users who have not
    signed in for `stale_user_days`, and volumes CloudStack does not encrypt. Reads only."""
    p = run.params
    open_rules = _open_rules(p["flag_wide_port_ranges"])
    cutoff = timezone.now() - timedelta(days=p["stale_user_days"])
    stale = []
    for user in get_user_model().objects.filter(is_active=True).order_by("username"):
        seen = user.last_login or user.date_joined
        if seen < cutoff:
            stale.append({"username": user.username, "last_login": user.last_login.isoformat()
                          if user.last_login else None, "days_inactive": (timezone.now() - seen).days})
    result = {"open_rules": open_rules, "stale_users": stale}
    if p["check_volume_encryption"]:
        # VolumeResponse.encryptformat (CloudStack 4.18+): present only on a volume CloudStack encrypts.
        result["unencrypted_volumes"] = [
            {"id": v.cloud_id, "name": v.name, "tenant": v.tenant_name, "size_gb": v.size_gb,
             "disk_offering": v.disk_offering}
            for v in portal.Volume.objects.order_by("tenant_name", "name") if not v.raw.get("encryptformat")]
    collection = portal.Collection.objects.filter(status="succeeded").order_by("-started_at").first()
    result["collected_at"] = collection.started_at.isoformat() if collection else None
    result["summary"] = {key: len(value) for key, value in result.items() if isinstance(value, list)}
    return result, sum(result["summary"].values()), 0


GONE = ("Destroyed", "Expunging", "Expunged", "Destroy")


def _tenants() -> dict[str, dict]:
    """The tenants (accounts and projects) that own collected VMs or volumes, with their usage in CloudStack's
    resource types; the root admin's resources are left out (its limits are unlimited)."""
    tenants: dict[str, dict] = {}

    def tenant(row) -> dict | None:
        if not row.tenant_id or (row.account == "admin" and not portal.Project.objects.filter(
                cloud_id=row.tenant_id).exists()):
            return None
        return tenants.setdefault(row.tenant_id, {
            "tenant_id": row.tenant_id, "tenant": row.tenant_name, "account": row.account, "domain_id": row.domain_id,
            "domain": row.domain_name, "project": portal.Project.objects.filter(cloud_id=row.tenant_id).exists(),
            "usage": {"user_vm": 0, "cpu": 0, "memory": 0, "volume": 0, "primary_storage": 0, "snapshot": 0}})

    for server in portal.Server.objects.exclude(state__in=GONE):
        if (t := tenant(server)) is not None:
            t["usage"]["user_vm"] += 1
            t["usage"]["cpu"] += server.vcpus
            t["usage"]["memory"] += server.ram_mb
    for volume in portal.Volume.objects.exclude(state__in=GONE):
        if (t := tenant(volume)) is not None:
            t["usage"]["volume"] += 1
            t["usage"]["primary_storage"] += volume.size_gb
    for snap in portal.Snapshot.objects.all():
        if (t := tenant(snap)) is not None:
            t["usage"]["snapshot"] += 1
    return tenants


def _limits(client: cs.CloudStackClient, tenant: dict) -> dict[str, int]:
    """CloudStack's limits for the tenant by resource type name (listResourceLimits); -1 is unlimited."""
    owner = ({"projectid": tenant["tenant_id"]} if tenant["project"]
             else {"account": tenant["account"], "domainid": tenant["domain_id"]})
    return {row.get("resourcetypename", ""): int(row.get("max", -1))
            for row in client.list_all("listResourceLimits", **owner)}


EOL_OS = ("centos 6", "centos 7", "centos 8", "ubuntu 14.04", "ubuntu 16.04", "ubuntu 18.04", "debian 8",
          "debian 9", "debian 10", "windows server 2008", "windows server 2012", "rhel 6", "red hat enterprise linux 6")


def upgrade_opportunity_detector(run: Run) -> tuple[dict, int, int]:
    """Upsell signals from the collected cloud: tenants near a CloudStack limit, VMs on the smallest offering with
    the next one up and what it adds per month, VMs on an operating system past its end of life. Reads only."""
    p = run.params
    pressure = []
    for tenant in _tenants().values():
        for kind, limit in _limits(run.client, tenant).items():
            used = tenant["usage"].get(kind)
            if used is None or limit <= 0:
                continue
            pct = round(100 * used / limit, 1)
            if pct >= p["quota_threshold_pct"]:
                pressure.append({"tenant": tenant["tenant"], "tenant_id": tenant["tenant_id"],
                                 "domain": tenant["domain"], "resource": kind, "used": used, "limit": limit,
                                 "used_pct": pct, "suggestion": f"raise the {kind} limit"})
    result: dict = {"quota_pressure": pressure}
    revenue = 0.0
    if p["include_flavor_analysis"]:
        fixed = sorted((o for o in portal.ServiceOffering.objects.filter(customized=False)
                        if o.vcpus and o.ram_mb), key=lambda o: (o.vcpus, o.ram_mb))
        lines = []
        for smallest, bigger in zip(fixed, fixed[1:], strict=False):
            if (smallest.vcpus, smallest.ram_mb) == (fixed[0].vcpus, fixed[0].ram_mb):
                for server in portal.Server.objects.filter(flavor_id=smallest.cloud_id).exclude(state__in=GONE):
                    delta = round((bigger.vcpus - smallest.vcpus) * p["price_per_vcpu"]
                                  + (bigger.ram_mb - smallest.ram_mb) / 1024 * p["price_per_gb_ram"], 2)
                    lines.append({"server_id": server.cloud_id, "name": server.name, "tenant": server.tenant_name,
                                  "current_offering": smallest.name, "suggested_offering": bigger.name,
                                  "monthly_delta": delta})
                    revenue += delta
                break
        result["flavor_upgrades"] = lines
    if p["include_image_analysis"]:
        templates = {t.cloud_id: t for t in portal.Template.objects.all()}
        lines = []
        for server in portal.Server.objects.exclude(state__in=GONE).order_by("tenant_name", "name"):
            template = templates.get(server.image_id)
            os_name = (template.os_type if template else "").lower()
            if any(os_name.startswith(old) for old in EOL_OS):
                lines.append({"server_id": server.cloud_id, "name": server.name, "tenant": server.tenant_name,
                              "image": server.image_name, "os": template.os_type,
                              "suggestion": "move to a supported release"})
        result["outdated_images"] = lines
    result["estimated_monthly_revenue"] = round(revenue, 2)
    found = sum(len(v) for v in result.values() if isinstance(v, list))
    return result, found, 0


def monthly_executive_snapshot(run: Run) -> tuple[dict, int, int]:
    """One page for the month from the portal's collection: the estate's totals and monthly cost, what changed in
    the last 30 days, and the risk_top_n tenants most at risk (VMs in Error, critical open rules, limits at 90%+)."""
    p = run.params
    servers = portal.Server.objects.exclude(state__in=GONE)
    volumes = portal.Volume.objects.exclude(state__in=GONE)
    vcpus = sum(servers.values_list("vcpus", flat=True))
    storage_gb = sum(volumes.values_list("size_gb", flat=True))
    states = {state: servers.filter(state=state).count() for state in ("Running", "Stopped", "Error")}
    totals = {"tenants": len({s.tenant_id for s in servers} | {v.tenant_id for v in volumes}),
              "vms": servers.count(), "vms_running": states["Running"], "vms_stopped": states["Stopped"],
              "vms_error": states["Error"], "vcpus": vcpus,
              "ram_gb": round(sum(servers.values_list("ram_mb", flat=True)) / 1024, 1), "volumes": volumes.count(),
              "storage_gb": storage_gb, "snapshots": portal.Snapshot.objects.count()}
    cost = {"compute": round(vcpus * p["price_per_vcpu"], 2), "storage": round(storage_gb * p["price_per_gb_storage"], 2)}
    cost["total"] = round(cost["compute"] + cost["storage"], 2)
    scores: dict[str, dict] = {}

    def risk(tenant: str, points: int, reason: str) -> None:
        entry = scores.setdefault(tenant, {"tenant": tenant, "score": 0, "reasons": []})
        entry["score"] += points
        entry["reasons"].append(reason)

    for server in servers.filter(state="Error"):
        risk(server.tenant_name, 3, f"VM {server.name} is in Error")
    for rule in _open_rules(False):
        if rule["severity"] == "critical":
            risk(rule["tenant"], 2, f"{rule['security_group']}: {rule['finding']}")
    for tenant in _tenants().values():
        for kind, limit in _limits(run.client, tenant).items():
            used = tenant["usage"].get(kind)
            if used is not None and limit > 0 and used >= 0.9 * limit:
                risk(tenant["tenant"], 1, f"{kind} at {round(100 * used / limit)}% of its limit")
    top = sorted(scores.values(), key=lambda e: (-e["score"], e["tenant"]))[:p["risk_top_n"]]
    collection = portal.Collection.objects.filter(status="succeeded").order_by("-started_at").first()
    result = {"period_end": timezone.now().isoformat(),
              "collected_at": collection.started_at.isoformat() if collection else None,
              "totals": totals, "monthly_cost": cost, "top_risks": top}
    if p["include_deltas"]:
        since = timezone.now() - timedelta(days=30)
        changes = portal.Change.objects.filter(detected_at__gte=since, resource_type__in=("server", "volume", "snapshot"))
        result["deltas_30d"] = {kind: {action: changes.filter(resource_type=kind, action=action).count()
                                       for action in ("created", "deleted")}
                                for kind in ("server", "volume", "snapshot")}
    return result, len(top), 0


def snapshot_quota_forecast(run: Run) -> tuple[dict, int, int]:
    """Per tenant: its snapshots in CloudStack against its snapshot limit (listResourceLimits) less the safety
    margin, the daily growth the snapshot policies assigned to its volumes add, the days until the limit and the
    steady state once retention deletes as fast as the policies create. Reads only."""
    p = run.params
    policies = SnapshotPolicy.objects.filter(enabled=True).prefetch_related("assignments")
    if not p["include_pending_policies"]:
        policies = policies.exclude(last_run_at=None)  # pending: enabled but never run yet
    volumes = snap_cloud.live_volumes(run.client)
    tenants: dict[tuple[str, str], dict] = {}

    def tenant(record: dict) -> dict:
        key = (snap_cloud.tenant_id(record), record.get("domainid", ""))
        return tenants.setdefault(key, {
            "tenant": snap_cloud.tenant_name(record), "domain": record.get("domain", ""), "project":
            bool(record.get("projectid")), "snapshots": 0, "daily_growth": 0.0, "retained_by_policies": 0,
            "policies": set(), "_owner": ({"projectid": record["projectid"]} if record.get("projectid") else
                                          {"account": record.get("account"), "domainid": record.get("domainid")})})

    for snap in run.client.list_everywhere("listSnapshots"):
        if snap.get("state") not in ("Destroyed", "Error"):
            tenant(snap)["snapshots"] += 1
    for policy in policies:
        targets = [snap_cloud.Target(a.target_type, a.target_id, a.domain_id) for a in policy.assignments.all()]
        per_day = 1440 / policy.interval_minutes
        kept = policy.retention_count
        if policy.retention_days:
            kept = min(kept, math.ceil(policy.retention_days * per_day))
        for volume in volumes:
            if any(t.covers(volume) for t in targets):
                entry = tenant(volume)
                entry["daily_growth"] += per_day
                entry["retained_by_policies"] += kept
                entry["policies"].add(policy.name)
    lines = []
    for entry in tenants.values():
        owner = entry.pop("_owner")
        if not owner.get("projectid") and owner.get("account") in (None, "", "admin"):
            continue  # the root admin: no limit
        limit = next((int(r.get("max", -1)) for r in run.client.list_all("listResourceLimits", resourcetype=3,
                                                                          **owner)), -1)
        entry["policies"] = sorted(entry["policies"])
        entry["daily_growth"] = round(entry["daily_growth"], 2)
        entry["limit"] = limit
        entry["projected_total"] = entry["snapshots"] + entry["retained_by_policies"]
        if limit < 0:
            entry.update(effective_limit=None, days_to_limit=None, status="unlimited")
        else:
            effective = math.floor(limit * (100 - p["safety_margin_pct"]) / 100)
            room = effective - entry["snapshots"]
            entry["effective_limit"] = effective
            entry["days_to_limit"] = (round(room / entry["daily_growth"], 1)
                                      if entry["daily_growth"] and room > 0 else (0 if room <= 0 else None))
            entry["status"] = ("over_limit" if room <= 0 else "will_exceed" if entry["projected_total"] > effective
                               else "ok")
        lines.append(entry)
    lines.sort(key=lambda e: ({"over_limit": 0, "will_exceed": 1, "ok": 2, "unlimited": 3}[e["status"]],
                              e["days_to_limit"] if e["days_to_limit"] is not None else 1e9, e["tenant"]))
    at_risk = [e for e in lines if e["status"] in ("over_limit", "will_exceed")]
    return {"tenants": lines, "at_risk": len(at_risk), "policies_counted": [x.name for x in policies]}, \
        len(at_risk), 0


MASK = "********"


def password_reset_console(run: Run) -> tuple[dict, int, int]:
    """Stops the VM if it runs (CloudStack resets a password only on a Stopped VM), resets its password through
    resetPasswordForVirtualMachine, starts it again if it was running, and names its console's address."""
    vm = _server(run)
    p = run.params
    template = run.client.list_all("listTemplates", templatefilter="all", id=vm.get("templateid")) \
        if vm.get("templateid") else []
    enabled = bool(template and template[0].get("passwordenabled"))
    state = vm.get("state", "")
    result = {"server_id": vm["id"], "name": vm.get("name", ""), "state_before": state,
              "template": vm.get("templatename", ""), "password_enabled": enabled, "steps": []}
    if not enabled:
        result["password_reset"] = "not_possible: the VM's template is not password enabled"
    elif state not in ("Running", "Stopped"):
        result["password_reset"] = f"not_possible: the VM is {state}; CloudStack resets a Stopped VM's password"
    if p["enable_console"]:
        base = run.client.api_url.rsplit("/api", 1)[0]
        result["console"] = {"url": f"{base}/console?cmd=access&vm={vm['id']}",
                             "expiry_minutes": p["console_expiry_minutes"],
                             "note": "CloudStack's console proxy opens it for a signed-in CloudStack session"}
    if "password_reset" in result:
        return result, 1, 0
    steps = (["stop"] if state == "Running" else []) + ["reset_password"] + (["start"] if state == "Running" else [])
    if run.dry_run:
        result.update(steps=["would_" + step for step in steps], password_reset="would_reset")
        return result, 1, 0
    run.checkpoint()
    try:
        if state == "Running":
            run.client.stop_virtual_machine(vm["id"])
            result["steps"].append("stopped")
        password = run.client.reset_vm_password(vm["id"], p["new_password"] or None)
        result["steps"].append("password_reset")
        if state == "Running":
            run.client.start_virtual_machine(vm["id"])
            result["steps"].append("started")
    except cs.CloudStackError as exc:
        result.update(password_reset=f"failed: {exc}", state_after=run.client.get_vm(vm["id"]).get("state", ""))
        return result, 1, 0
    # Shown once: the first answer that carries it (trigger, approval or detail) blanks it in the record.
    result.update(password_reset="done", password=password, state_after=run.client.get_vm(vm["id"]).get("state", ""))
    return result, 1, 1


# The parameters' JSON schema, one builder a kind (the keys in the order the answers have always shown them).
def _whole(default: int, minimum: int, maximum: int) -> dict:
    return {"type": "integer", "default": default, "minimum": minimum, "maximum": maximum}


def _price(default: float) -> dict:
    return {"type": "number", "default": default, "minimum": 0, "maximum": 1000000}


def _flag(default: bool, **extra) -> dict:
    return {"type": "boolean", "default": default, **extra}


def _text(default: str = "", **extra) -> dict:
    return {"type": "string", "default": default, **extra}


def _one_of(words: list[str], default: str) -> dict:
    return {"type": "string", "enum": words, "default": default}


_SERVER = {"type": "string", "maxLength": 64, "description": "CloudStack VM id"}

CATALOG: dict[str, Runbook] = {rb.name: rb for rb in (
    Runbook(
        "stuck_vm_remediation", "Stuck VM Remediation",
        "Detects VMs stuck in Error or a transitional state (Starting, Stopping, Migrating) longer than the threshold "
        "and reboots them (hard: forced stop, then start) or only reports them. An Error VM is reported for redeploy.",
        "vm", "medium",
        {"stuck_threshold_minutes": _whole(30, 1, 100000),
         "action": _one_of(["soft_reboot", "hard_reboot", "report_only"], "report_only"),
         "target_project": _text(),
         "target_domain": _text()},
        stuck_vm_remediation),
    Runbook(
        "orphan_resource_cleanup", "Orphan Resource Cleanup",
        "Finds detached data volumes and snapshots of deleted volumes that the platform did not create or keep, "
        "older than the threshold, and deletes them in CloudStack.",
        "cleanup", "high",
        {"resource_types": {"type": "array", "items": {"type": "string", "enum": ["volumes", "snapshots"]},
                            "default": ["volumes"]},
         "age_threshold_days": _whole(7, 0, 3650),
         "target_project": _text()},
        orphan_resource_cleanup),
    Runbook(
        "vm_health_quickfix", "VM Health Quick Fix",
        "Diagnoses one VM (state, host, volumes, NICs) and, when asked, restarts it if it is unhealthy.",
        "vm", "medium",
        {"server_id": _SERVER, "auto_restart": _flag(False),
         "restart_type": _one_of(["soft", "hard"], "soft")},
        vm_health_quickfix, required=("server_id",)),
    Runbook(
        "snapshot_before_escalation", "Snapshot Before Escalation",
        "Takes a named snapshot of each of a VM's volumes before a ticket is handed to the next support tier.",
        "vm", "low",
        {"server_id": _SERVER, "tag_prefix": _text("Pre-T2-escalation", maxLength=100),
         "reference_id": _text("", maxLength=100)},
        snapshot_before_escalation, required=("server_id",)),
    Runbook(
        "cost_leakage_report", "Cost Leakage Report",
        "Lists VMs stopped longer than the threshold and detached volumes, with what they cost per month.",
        "cost", "low",
        {"idle_cpu_threshold_pct": _whole(5, 0, 100),
         "shutoff_days_threshold": _whole(30, 0, 3650),
         "detached_volume_days": _whole(7, 0, 3650),
         "price_per_vcpu_month": _price(15.0),
         "price_per_gb_volume_month": _price(2.0),
         "price_per_floating_ip_month": _price(5.0)},
        cost_leakage_report),
    Runbook(
        "security_group_audit", "Security Group Audit",
        "Lists ingress rules open to the internet (0.0.0.0/0, ::/0): all traffic, sensitive ports (SSH, RDP, "
        "databases) and, when asked, wide port ranges. Reads only.",
        "security", "low",
        {"flag_wide_port_ranges": _flag(True),
         "wide_port_range_min": _whole(100, 2, 65536),
         "target_project": _text()},
        security_group_audit),
    Runbook(
        "password_reset_console", "Password Reset + Console Access",
        "Resets a VM's password through CloudStack (its template must be password enabled; a running VM is "
        "stopped, reset and started again) and gives its console address. The new password is shown once.",
        "vm", "high",
        {"server_id": _SERVER,
         "new_password": _text("", maxLength=128, description="Empty: CloudStack generates one"),
         "enable_console": _flag(True),
         "console_expiry_minutes": _whole(30, 1, 1440)},
        password_reset_console, required=("server_id",), secret_params=("new_password",)),
    Runbook(
        "security_compliance_audit", "Security & Compliance Audit",
        "Over the portal's last collection of every tenant: ingress rules open to the internet (all traffic, "
        "admin and database ports, wide ranges), platform users who have not signed in for stale_user_days, and "
        "volumes CloudStack does not encrypt. Reads only.",
        "security", "low",
        {"stale_user_days": _whole(90, 1, 3650),
         "flag_wide_port_ranges": _flag(True),
         "check_volume_encryption": _flag(True)},
        security_compliance_audit),
    Runbook(
        "upgrade_opportunity_detector", "Upgrade Opportunity Detector",
        "Upsell signals from the portal's collection and CloudStack's limits: tenants using quota_threshold_pct "
        "of a limit or more, VMs on the smallest offering (with the next one up and its monthly price), VMs on "
        "an operating system past its end of life. Reads only.",
        "cost", "low",
        {"quota_threshold_pct": _whole(80, 1, 100),
         "include_flavor_analysis": _flag(True),
         "include_image_analysis": _flag(True),
         "price_per_vcpu": _price(15.0),
         "price_per_gb_ram": _price(5.0)},
        upgrade_opportunity_detector),
    Runbook(
        "monthly_executive_snapshot", "Monthly Executive Snapshot",
        "The estate for an executive report, from the portal's collection: totals, monthly cost at the given "
        "prices, the last 30 days' created and deleted VMs, volumes and snapshots, and the tenants most at risk.",
        "reporting", "low",
        {"risk_top_n": _whole(5, 1, 100),
         "include_deltas": _flag(True),
         "price_per_vcpu": _price(15.0),
         "price_per_gb_storage": _price(2.0)},
        monthly_executive_snapshot),
    Runbook(
        "snapshot_quota_forecast", "Snapshot Quota Forecast",
        "Per tenant, its snapshots against CloudStack's snapshot limit less a safety margin, the daily growth its "
        "snapshot policies add, the days until the limit and whether retention keeps it under. Reads only.",
        "snapshots", "low",
        {"include_pending_policies": _flag(True, description="Count enabled policies that have not run yet"),
         "safety_margin_pct": _whole(10, 0, 90)},
        snapshot_quota_forecast),
)}


SEALED = "fernet:"  # a secret parameter as stored while its run waits: encrypted with the platform's secrets key


def sealed(runbook_name: str, params: dict) -> dict:
    """The parameters to store: a secret given (a chosen password) encrypted at rest, never in the clear in the
    database while the run waits for approval or a worker."""
    runbook = CATALOG.get(runbook_name)
    secret = runbook.secret_params if runbook else ()
    return {k: (SEALED + crypto.encrypt(v) if k in secret and isinstance(v, str) and v else v)
            for k, v in params.items()}


def opened(runbook_name: str, params: dict) -> dict:
    """The parameters the procedure runs with: the sealed secrets decrypted, in memory only."""
    runbook = CATALOG.get(runbook_name)
    secret = runbook.secret_params if runbook else ()
    return {k: (crypto.decrypt(v[len(SEALED):]) if k in secret and isinstance(v, str) and v.startswith(SEALED)
                else v) for k, v in params.items()}


def without_secrets(runbook_name: str, params: dict) -> dict:
    """The parameters to keep once a run is over (done, rejected, cancelled): a secret given shows only as set."""
    runbook = CATALOG.get(runbook_name)
    secret = runbook.secret_params if runbook else ()
    return {k: (MASK if k in secret and v else v) for k, v in params.items()}


def get(name: str) -> Runbook | None:
    return CATALOG.get(name)
