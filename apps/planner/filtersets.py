"""The VM list's filters and sorting (seed 004 "List VMs")."""
from __future__ import annotations

import django_filters

from .choices import MigrationMode, OsFamily, RiskLevel
from .models import SourceVM

SORTABLE = ("vm_name", "power_state", "guest_os", "os_family", "num_cpu", "memory_mb", "total_disk_gb", "in_use_gb",
            "cluster", "host", "risk_score", "risk_level", "migration_mode", "migration_status", "tenant")


class SourceVMFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(field_name="vm_name", lookup_expr="icontains", max_length=255,
                                       help_text="Part of the VM name")
    risk_level = django_filters.ChoiceFilter(choices=RiskLevel.choices)
    migration_mode = django_filters.ChoiceFilter(choices=MigrationMode.choices)
    tenant = django_filters.CharFilter(field_name="tenant__tenant_name", max_length=255,
                                       help_text="The assigned tenant's name")
    os_family = django_filters.ChoiceFilter(choices=OsFamily.choices)
    power_state = django_filters.CharFilter(lookup_expr="iexact", max_length=32,
                                            help_text="poweredOn, poweredOff, suspended")
    cluster = django_filters.CharFilter(max_length=255)
    sort = django_filters.ChoiceFilter(choices=[(f, f) for f in SORTABLE], method="sort_by",
                                       help_text="The column to sort by (default vm_name)")
    order = django_filters.ChoiceFilter(choices=[("asc", "asc"), ("desc", "desc")], method="keep",
                                        help_text="asc (default) or desc")

    class Meta:
        model = SourceVM
        fields = []

    def keep(self, queryset, name, value):
        return queryset  # read by sort_by

    def sort_by(self, queryset, name, value):
        field = "tenant__tenant_name" if value == "tenant" else value
        prefix = "-" if self.form.cleaned_data.get("order") == "desc" else ""
        return queryset.order_by(f"{prefix}{field}", "id")

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("sort"):
            prefix = "-" if self.form.cleaned_data.get("order") == "desc" else ""
            queryset = queryset.order_by(f"{prefix}vm_name")
        return queryset
