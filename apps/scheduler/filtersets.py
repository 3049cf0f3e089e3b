"""One FilterSet per list: status as a multiple choice where the rows have one, `q` search; limit/offset paginate."""
import django_filters
from django import forms
from django.db.models import Q

from apps.core.filtersets import SearchFilter
from apps.inventory.choices import VMContextStatus
from apps.inventory.models import VMContext

from .choices import ExecutionStatus, ExecutionTrigger, ExecutionVMStatus, ScheduleType
from .models import (
    ExecutionVM,
    MachineGroup,
    ScheduleExecution,
    SyncSchedule,
    VMGroupMembership,
)


class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number the database can hold (a 30-digit id is a 400, not an overflow)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0, yes/no); anything else is a 400 instead of being silently ignored."""

    # NullBooleanSelect would turn an unknown word into "no filter" before validation sees it.
    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        lowered = str(value).strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise forms.ValidationError("Use true or false.")

    def validate(self, value):
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


def time_range(field_name: str) -> tuple[django_filters.IsoDateTimeFilter, django_filters.IsoDateTimeFilter]:
    """The `..._after` (from, inclusive) and `..._before` (until, exclusive) filters on a timestamp, declared as
    `created_after, created_before = time_range("created_at")`: adjacent ranges never share a row."""
    return (django_filters.IsoDateTimeFilter(field_name=field_name, lookup_expr="gte"),
            django_filters.IsoDateTimeFilter(field_name=field_name, lookup_expr="lt"))


SCHEDULE_STATES = [("enabled", "Enabled"), ("disabled", "Disabled"), ("running", "A run is active")]


class ScheduleFilterSet(django_filters.FilterSet):
    q = SearchFilter("name", "description", label="Search name and description")
    status = django_filters.MultipleChoiceFilter(choices=SCHEDULE_STATES, method="by_status",
                                                 label="enabled, disabled, running (any of)")
    schedule_type = django_filters.MultipleChoiceFilter(choices=ScheduleType.choices)
    enabled = StrictBooleanFilter()

    class Meta:
        model = SyncSchedule
        fields = ["enabled", "schedule_type"]


    def by_status(self, queryset, name, values):
        condition = Q()
        if "enabled" in values:
            condition |= Q(enabled=True)
        if "disabled" in values:
            condition |= Q(enabled=False)
        if "running" in values:
            condition |= Q(active_execution_id__isnull=False)
        return queryset.filter(condition) if values else queryset


class MachineGroupFilterSet(django_filters.FilterSet):
    q = SearchFilter("name", "description", label="Search name and description")
    schedule = IdFilter(field_name="schedule_id")
    has_schedule = StrictBooleanFilter(field_name="schedule", lookup_expr="isnull", exclude=True)

    class Meta:
        model = MachineGroup
        fields = ["schedule"]


class GroupVMFilterSet(django_filters.FilterSet):
    q = SearchFilter("vm_name", "context_id", "vm_id", label="Search VM name, context id, VMware id")
    status = django_filters.MultipleChoiceFilter(field_name="current_status", choices=VMContextStatus.choices)

    class Meta:
        model = VMContext
        fields = []


class AssignmentFilterSet(django_filters.FilterSet):
    q = SearchFilter("vm_context__vm_name", "vm_context__context_id", label="Search VM name or context id")
    group = IdFilter(field_name="group_id")
    schedule = IdFilter(field_name="group__schedule_id")
    status = django_filters.MultipleChoiceFilter(field_name="vm_context__current_status",
                                                 choices=VMContextStatus.choices)

    class Meta:
        model = VMGroupMembership
        fields = ["group"]


class ExecutionFilterSet(django_filters.FilterSet):
    q = SearchFilter("execution_id", "schedule_name", label="Search execution id and schedule name")
    status = django_filters.MultipleChoiceFilter(choices=ExecutionStatus.choices)
    trigger = django_filters.MultipleChoiceFilter(choices=ExecutionTrigger.choices)
    schedule = IdFilter(field_name="schedule_id")
    created_after, created_before = time_range("created_at")

    class Meta:
        model = ScheduleExecution
        fields = ["schedule"]


class ExecutionVMFilterSet(django_filters.FilterSet):
    q = SearchFilter("vm_name", "reason", "replication_job__job_id", label="Search VM name, reason, job id")
    status = django_filters.MultipleChoiceFilter(choices=ExecutionVMStatus.choices)
    group = IdFilter(field_name="group_id")

    class Meta:
        model = ExecutionVM
        fields = ["group"]

