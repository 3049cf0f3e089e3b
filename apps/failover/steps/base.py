"""What every failover step shares: the step class, the context a run or a rollback carries, the row helpers.

A step declares what it needs (`requires`) and what it writes down (`records`: job fields, FailoverVolume and
CloudResource rows); `run(ctx)` finds what an earlier attempt recorded and does only the rest; `undo(ctx, outcome)`
reverses what the records show it did, and reports each line through the outcome (a job event as it happens).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from apps.replication.models import ReplicaVolume
from apps.settings import cloudstack as cs
from apps.settings.models import CloudResource

from .. import cloud
from ..choices import FailoverType
from ..jobs import Outcome
from ..models import FailoverJob, FailoverVolume

# A step's run returns this when the job must wait (the final sync runs): the conductor stops, to be called again.
WAIT = "wait"


class Step(ABC):
    """One step of a failover; subclasses set the class attributes, implement run and override undo/recorded."""

    name: str = ""
    status: str | None = None  # the job's status while the step runs; None: it runs under the status it finds
    requires: tuple[str, ...] = ()
    records: tuple[str, ...] = ()
    in_cloudstack: bool = False  # its undo changes CloudStack: it needs a client and waits for a clean teardown
    undoes: str = ""  # what undo does, in a few words (the step table in docs/architecture.md)
    doing: str = ""  # the job's `current_step` text while the step runs, unless current_step says more

    def current_step(self, ctx: Context) -> str:
        """The job's `current_step` text when the conductor enters this step's status."""
        return self.doing

    def recorded(self, job: FailoverJob) -> bool:
        """Whether the job's rows show this step changed something a rollback must undo."""
        return False

    @abstractmethod
    def run(self, ctx: Context) -> str | None:
        """Do the step's work, skipping what the job's rows show an earlier attempt did; WAIT to pause the run."""

    def undo(self, ctx: Context, outcome: Outcome) -> None:  # noqa: B027 (optional: most steps have nothing to undo)
        """Nothing to undo unless a step says otherwise."""

    def __repr__(self) -> str:
        return f"<step {self.name}>"


@dataclass
class Context:
    """A run's or a rollback's working state: the job, its CloudStack client, what the undo found out so far."""

    job: FailoverJob
    client: cs.CloudStackClient | None = None
    # The error code a CloudStack failure raised now ends the job with.
    error_code: str = "OSSEA_API_ERROR"
    # True when the job was already in this step's status when the conductor came to it: a run after a crash.
    again: bool = False
    oma: str = ""
    vm_gone: bool = False  # the failover VM turned out to be gone during the undo
    _vm: dict | None = field(default=None, repr=False)
    _vm_looked_up: bool = field(default=False, repr=False)

    def cloudstack(self) -> cs.CloudStackClient:
        if self.client is None:
            self.client = cloud.client_for(self.job.ossea_config)
        return self.client

    def failover_vm(self, outcome: Outcome) -> dict | None:
        """The job's failover VM as CloudStack has it (asked once per undo), None when there is none or the
        lookup failed (then the outcome says so)."""
        if not self._vm_looked_up:
            self._vm_looked_up = True
            job = self.job
            try:
                self._vm = find_vm(job, self.cloudstack())
            except cs.CloudStackError as exc:
                outcome.failed(f"could not look up VM {job.destination_vm_id or job.destination_vm_name}: {exc}")
                return None
            if self._vm is not None and not job.destination_vm_id:
                FailoverJob.objects.filter(pk=job.pk).update(destination_vm_id=self._vm["id"])
                job.destination_vm_id = self._vm["id"]
        return self._vm

    @contextmanager
    def tearing_down(self, outcome: Outcome, vm_id: str) -> Iterator[None]:
        """A call on the failover VM during the undo: any failure stops the teardown, unless listing the VM shows
        it is gone (CloudStack sends no "gone" error for a removed VM: its id still resolves)."""
        try:
            yield
        except cs.CloudStackError as exc:
            try:
                gone = vm_is_gone(self.cloudstack().find("vm", vm_id))
            except cs.CloudStackError:
                gone = False
            if gone:
                outcome.did(f"VM {vm_id} already gone")
                self.vm_gone = True
            else:
                outcome.failed(f"could not tear down VM {vm_id}: {exc}")


GONE_STATES = ("Destroyed", "Expunging")


def vm_is_gone(vm: dict | None) -> bool:
    """No VM, or one CloudStack is destroying (it cannot run again unless someone recovers it)."""
    return vm is None or vm.get("state") in GONE_STATES


def find_vm(job: FailoverJob, client: cs.CloudStackClient) -> dict | None:
    """The job's failover VM as CloudStack lists it: by its recorded id (written before the deploy was waited on),
    else by name for a deploy whose answer never arrived."""
    if job.destination_vm_id:
        return client.find("vm", job.destination_vm_id)
    if job.destination_vm_name:
        # A test VM's name is unique per job; a live VM's name was checked free before the run (readiness), so a VM
        # of that name created since the job was is this job's.
        started = job.created_at - timedelta(minutes=5)  # CloudStack's clock may run a little behind ours
        since = started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if job.job_type == FailoverType.LIVE else ""
        return next((vm for vm in client.list_virtual_machines(name=job.destination_vm_name)
                     if vm.get("name") == job.destination_vm_name and vm.get("state") not in GONE_STATES
                     and vm.get("created", "")[:19] >= since), None)
    return None


# -- the rows the steps write ---------------------------------------------------------------------


def mark_resource(job: FailoverJob, kind: str, resource_id: str, state: str) -> None:
    CloudResource.objects.filter(owner=job.job_id, kind=kind, resource_id=resource_id).update(state=state)


def set_place(fv: FailoverVolume, place: str, **fields) -> None:
    fv.place = place
    for key, value in fields.items():
        setattr(fv, key, value)
    fv.save(update_fields=["place", *fields.keys(), "updated_at"])


def mark_replica(fv: FailoverVolume, status: str, *, attached_vm_id: str = "", device_path: str | None = None,
                 device_id: int | None = None) -> None:
    """Keep replication's view of the volume true: where it is and, on the control plane, its device."""
    updates = {"status": status, "attached_vm_id": attached_vm_id}
    if device_path is not None:
        updates.update(device_path=device_path, device_id=device_id)
    ReplicaVolume.objects.filter(volume_id=fv.volume_id).update(**updates)
