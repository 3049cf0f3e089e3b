from __future__ import annotations

from django.db.models import Count, QuerySet

from .models import VMContext


def vm_contexts() -> QuerySet[VMContext]:
    # Counts come from one aggregate so list requests stay constant in queries as the inventory grows.
    return VMContext.objects.annotate(disk_count=Count("disks", distinct=True), nic_count=Count("nics", distinct=True))


def ungrouped_vm_contexts() -> QuerySet[VMContext]:
    """VMs that belong to no machine group (the scheduler app owns the membership relation)."""
    qs = vm_contexts()
    relation = next((f for f in VMContext._meta.get_fields() if f.name == "group_membership"), None)
    if relation is not None:
        qs = qs.filter(group_membership__isnull=True)
    return qs
