"""What every app's FilterSets share: the `q` search."""
import django_filters
from django.db.models import Q


class SearchFilter(django_filters.CharFilter):
    """`q`: the rows where any of the named fields contains the text, ignoring case."""

    def __init__(self, *fields: str, **kwargs):
        super().__init__(**kwargs)
        self.search_fields = fields

    def filter(self, qs, value):
        if value in django_filters.constants.EMPTY_VALUES:
            return qs
        match = Q()
        for field in self.search_fields:
            match |= Q(**{f"{field}__icontains": value})
        return qs.filter(match)
