"""URL tables written as data: an app's ``urls.py`` lists its paths as rows ``(pattern, view, name)`` and `routes`
makes each one ``path(pattern, view.as_view(), name=name)``, so a table says only what differs from row to row."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from django.urls import URLPattern, path

Row = tuple[str, type | Callable, str]


def routes(rows: Iterable[Row]) -> list[URLPattern]:
    """One ``path()`` a row, in the table's order (the first match wins, so literal paths stay before named ones).

    A row's view is a view class (its ``as_view()`` is taken) or a view already made, such as
    ``View.as_view(http_method_names=[...])``."""
    return [path(pattern, view.as_view() if isinstance(view, type) else view, name=name) for pattern, view, name in rows]
