import django_filters
from django.db.models import Q

from apps.core.filtersets import SearchFilter

from .choices import ReplicationStatus, ReplicationType
from .models import ReplicationJob


class ReplicationJobFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ReplicationStatus.choices)
    type = django_filters.MultipleChoiceFilter(field_name="replication_type", choices=ReplicationType.choices)
    replication_type = django_filters.MultipleChoiceFilter(choices=ReplicationType.choices)
    vm = django_filters.CharFilter(method="filter_vm", label="VM name, context id or VMware id")
    q = SearchFilter("job_id", "vm_context__vm_name")

    class Meta:
        model = ReplicationJob
        fields = ["status", "replication_type"]

    def filter_vm(self, queryset, name, value):
        return queryset.filter(Q(vm_context__vm_name=value) | Q(vm_context__context_id=value)
                               | Q(vm_context__vm_id=value))

