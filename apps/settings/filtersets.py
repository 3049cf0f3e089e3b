"""Filters of the settings app's lists: the recorded CloudStack resources (what the orphan sweep left)."""
import django_filters
from django.db.models import Q

from .choices import CloudResourceKind, CloudResourceState
from .models import CloudResource


class CloudResourceFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=CloudResourceState.choices)
    kind = django_filters.MultipleChoiceFilter(choices=CloudResourceKind.choices)
    owner = django_filters.CharFilter()
    q = django_filters.CharFilter(method="search", label="resource id, name, owner or error contains")

    class Meta:
        model = CloudResource
        fields = ["state", "kind", "owner"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(resource_id__icontains=value) | Q(name__icontains=value)
                               | Q(owner__icontains=value) | Q(last_error__icontains=value))
