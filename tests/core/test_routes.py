"""apps.core.api.routes: a URL table's rows become the path()s they name, in order."""
from django.urls import resolve, reverse
from rest_framework.views import APIView

from apps.core.api.routes import routes


class Thing(APIView):
    pass


def test_a_row_names_a_view_class_or_a_view_already_made():
    made = Thing.as_view(http_method_names=["get"])
    first, second = routes([("things", Thing, "things"), ("things/<str:pk>", made, "thing")])
    assert (str(first.pattern), first.name, first.callback.view_class) == ("things", "things", Thing)
    assert (str(second.pattern), second.name, second.callback) == ("things/<str:pk>", "thing", made)


def test_the_apps_tables_resolve_as_before():
    assert reverse("planner-project", kwargs={"project_id": "p1"}) == "/api/migration/projects/p1"
    match = resolve("/api/v1/replication/jobs/j1")
    assert match.url_name == "replication-job-detail"
    assert match.func.view_initkwargs == {"http_method_names": ["get", "head", "options"]}
