import django_filters

from apps.core.filtersets import SearchFilter

from .choices import VMContextStatus
from .models import VMContext


class VMContextFilterSet(django_filters.FilterSet):
    q = SearchFilter("vm_name", "vm_path", "vm_id", "context_id", label="Search name, path, id")
    current_status = django_filters.MultipleChoiceFilter(choices=VMContextStatus.choices)
    status = django_filters.MultipleChoiceFilter(field_name="current_status", choices=VMContextStatus.choices)
    vcenter_host = django_filters.CharFilter()
    datacenter = django_filters.CharFilter()
    power_state = django_filters.CharFilter()

    class Meta:
        model = VMContext
        fields = ["current_status", "vcenter_host", "datacenter", "power_state"]

