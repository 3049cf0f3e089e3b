import django_filters
from django.db.models import Q

from .choices import VMContextStatus
from .models import VMContext


class VMContextFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search name, path, id")
    current_status = django_filters.MultipleChoiceFilter(choices=VMContextStatus.choices)
    status = django_filters.MultipleChoiceFilter(field_name="current_status", choices=VMContextStatus.choices)
    vcenter_host = django_filters.CharFilter()
    datacenter = django_filters.CharFilter()
    power_state = django_filters.CharFilter()

    class Meta:
        model = VMContext
        fields = ["current_status", "vcenter_host", "datacenter", "power_state"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(vm_name__icontains=value) | Q(vm_path__icontains=value) | Q(vm_id__icontains=value)
                               | Q(context_id__icontains=value))
