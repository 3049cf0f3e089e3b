import django_filters
from django.db.models import Q

from apps.core.filtersets import SearchFilter

from .choices import FailoverStatus, FailoverType
from .models import FailoverJob, NetworkMapping


def _vm(queryset, value, prefix="vm_context__"):
    return queryset.filter(Q(**{f"{prefix}vm_id": value}) | Q(**{f"{prefix}vm_name": value})
                           | Q(**{f"{prefix}context_id": value}) | Q(**{f"{prefix}moref": value}))


class FailoverJobFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=FailoverStatus.choices)
    type = django_filters.MultipleChoiceFilter(field_name="job_type", choices=FailoverType.choices)
    vm_id = django_filters.CharFilter(method="filter_vm", label="VMware VM id, VM name or context id")
    q = SearchFilter("job_id", "vm_context__vm_name", "destination_vm_id")

    class Meta:
        model = FailoverJob
        fields = ["status"]

    def filter_vm(self, queryset, name, value):
        return _vm(queryset, value)


class NetworkMappingFilterSet(django_filters.FilterSet):
    vm_id = django_filters.CharFilter(method="filter_vm", label="VMware VM id, VM name or context id")
    source_network_name = django_filters.CharFilter()
    destination_network_id = django_filters.CharFilter()
    # A choice, so "maybe" is a 400 instead of being ignored as BooleanFilter does.
    is_test_network = django_filters.ChoiceFilter(choices=(("true", "true"), ("false", "false")), method="filter_test")
    q = SearchFilter("source_network_name", "destination_network_name", "vm_context__vm_name")

    class Meta:
        model = NetworkMapping
        fields = ["source_network_name", "destination_network_id"]

    def filter_vm(self, queryset, name, value):
        return _vm(queryset, value)

    def filter_test(self, queryset, name, value):
        return queryset.filter(is_test_network=value == "true")

