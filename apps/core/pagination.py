from rest_framework.pagination import LimitOffsetPagination as _LimitOffsetPagination


class LimitOffsetPagination(_LimitOffsetPagination):
    """limit/offset as seed 003 documents (default 50), capped so one request stays cheap."""

    default_limit = 50
    max_limit = 1000


class PagedOnRequestPagination(LimitOffsetPagination):
    """The inventory and replication lists existing clients read as a plain JSON array (`GET /vms`, `/vm-contexts`,
    `/replications`, `/replication/jobs`): without `limit` or `offset` the answer is every matching row as an array;
    with either of them it is the `{count, next, previous, results}` page."""

    def paginate_queryset(self, queryset, request, view=None):
        if not {self.limit_query_param, self.offset_query_param} & set(request.query_params):
            self.request = request
            return None
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response_schema(self, schema):
        return {"oneOf": [schema, super().get_paginated_response_schema(schema)],
                "description": "A JSON array of every matching row; the page object instead when the request gives "
                               "`limit` or `offset`."}

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["description"] += " Given (or `offset` given), the answer is a page object, else a plain array."
        return parameters


# Hand-rolled limit/offset lists slice querysets with the offset as given; past a signed 64-bit integer the
# database refuses it (SQLite: "datatype mismatch"). Far beyond any table here, so larger is a 400.
MAX_OFFSET = 2**31 - 1
