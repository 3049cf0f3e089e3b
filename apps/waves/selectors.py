"""Wave reads worth a name; list querysets carry their counts so pages stay constant in queries."""
from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from .choices import IN_FLIGHT, WaveKind, WaveVMStatus
from .models import Wave, WaveVM


def waves() -> QuerySet[Wave]:
    return (Wave.objects.select_related("group", "rehearsal_of")
            .annotate(vm_count=Count("vms", distinct=True),
                      vms_completed=Count("vms", filter=Q(vms__status=WaveVMStatus.COMPLETED), distinct=True),
                      vms_failed=Count("vms", filter=Q(vms__status=WaveVMStatus.FAILED), distinct=True),
                      vms_skipped=Count("vms", filter=Q(vms__status=WaveVMStatus.SKIPPED), distinct=True),
                      vms_running=Count("vms", filter=Q(vms__status__in=IN_FLIGHT), distinct=True)))


def wave_vms(wave: Wave) -> QuerySet[WaveVM]:
    return wave.vms.select_related("failover_job", "test_job", "vm_context").order_by("position")


def wave_detail() -> QuerySet[Wave]:
    """A wave with its VMs in order (`ordered_vms`) and its hooks."""
    vms = WaveVM.objects.select_related("failover_job", "test_job", "vm_context").order_by("position")
    return waves().prefetch_related(Prefetch("vms", queryset=vms, to_attr="ordered_vms"), "hooks")


def vm_outcomes(context_ids) -> dict[str, WaveVM]:
    """context id -> that VM's place in its latest cutover wave (with `wave`), for the VMs that have one."""
    rows = (WaveVM.objects.filter(vm_context__context_id__in=list(context_ids), wave__kind=WaveKind.CUTOVER)
            .select_related("wave", "vm_context").order_by("wave__created_at", "wave_id"))
    return {row.vm_context.context_id: row for row in rows}
