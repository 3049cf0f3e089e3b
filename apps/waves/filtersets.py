"""One FilterSet per list: status as a multiple choice, `q` search; limit/offset paginate."""
import django_filters

from apps.core.filtersets import SearchFilter
from apps.scheduler.filtersets import IdFilter, time_range

from .choices import WaveKind, WaveStatus, WaveVMStatus
from .models import Wave, WaveVM


class WaveFilterSet(django_filters.FilterSet):
    q = SearchFilter("name", "description", label="Search name and description")
    status = django_filters.MultipleChoiceFilter(choices=WaveStatus.choices)
    kind = django_filters.MultipleChoiceFilter(choices=WaveKind.choices)
    group = IdFilter(field_name="group_id")
    window_after, window_before = time_range("window_start")

    class Meta:
        model = Wave
        fields = ["group"]


class WaveVMFilterSet(django_filters.FilterSet):
    q = SearchFilter("vm_name", "reason", label="Search VM name and reason")
    status = django_filters.MultipleChoiceFilter(choices=WaveVMStatus.choices)

    class Meta:
        model = WaveVM
        fields = []
