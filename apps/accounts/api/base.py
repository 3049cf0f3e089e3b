"""What every view of this app shares: seed 004's permission strings and its ``{"detail": ...}`` errors. Its
limit/offset pages with ``total`` and their schema are every seed-004 app's (apps/core/api/detail.py)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.response import Response

from apps.core.api.detail import SeedView
from apps.core.api.detail import errors as errors  # the views document their errors with it
from apps.core.api.validation import validated

from ..permissions import PUBLIC, SeedPermission, requirement


class AccountsView(SeedView, component_prefix="Portal"):
    # A view that reads one thing and answers it (and may change it) says so in its class line:
    #     class StatsView(AccountsView, tags=TAGS, answer=s.NotificationStatsSerializer,
    #                     read=selectors.notification_stats, summary="..."):
    # GET answers `answer(read())`; with `write` (and its `body`), PUT validates the body, passes its fields to
    # `write` and answers what `read()` then says. `requires` stays in the class body, as in every view of the app.
    # (Comments, not a docstring: the schema would describe every operation below by it.)
    permission_classes = [SeedPermission]
    requires: dict[str, str] = {}

    def __init_subclass__(cls, tags=None, answer=None, read=None, summary: str = "", operation_id: str | None = None,
                          body=None, write=None, write_summary: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        # An option without the one it completes would be silently ignored (the view answering 405): refuse it here.
        given = {"tags": tags, "answer": answer, "summary": summary, "operation_id": operation_id, "body": body,
                 "write": write, "write_summary": write_summary}
        if read is None and any(given.values()):
            raise TypeError(f"{cls.__name__}: {', '.join(k for k, v in given.items() if v)} need read= (and answer=)")
        if read is not None and answer is None:
            raise TypeError(f"{cls.__name__}: read= needs answer=, the serializer of what it reads")
        if (write is None) != (body is None) or (write is None and write_summary):
            raise TypeError(f"{cls.__name__}: write= and body= (and write_summary=) go together")
        if read is None:
            return
        # A public read documents no authentication (the login page reads it before anyone signs in).
        auth = [] if cls.requires.get("get") == PUBLIC else None

        @extend_schema(responses={200: answer}, tags=tags, auth=auth, operation_id=operation_id, summary=summary)
        def get(self, request):
            return Response(answer(read()).data)

        cls.get = get
        if write is None:
            return

        @extend_schema(request=body, responses={200: answer}, tags=tags, summary=write_summary)
        def put(self, request):
            write(**validated(body, request.data))
            return Response(answer(read()).data)

        cls.put = put

    def get_permissions(self):
        # A public method also reads as public in the schema (no 401/403 documented on it).
        if self.request is not None and requirement(self, self.request.method) == PUBLIC:
            return [permissions.AllowAny()]
        return super().get_permissions()
