from rest_framework.pagination import LimitOffsetPagination as _LimitOffsetPagination


class LimitOffsetPagination(_LimitOffsetPagination):
    """limit/offset as seed 003 documents (default 50), capped so one request stays cheap."""

    default_limit = 50
    max_limit = 1000


# Hand-rolled limit/offset lists slice querysets with the offset as given; past a signed 64-bit integer the
# database refuses it (SQLite: "datatype mismatch"). Far beyond any table here, so larger is a 400.
MAX_OFFSET = 2**31 - 1
