"""A ServiceCrudViewSet's services given in part are refused when the class is made, not answered with 405."""
import pytest

from apps.scheduler import services
from apps.scheduler.api.views import ServiceCrudViewSet


def test_services_without_row_are_refused_at_class_creation():
    with pytest.raises(TypeError, match="missing row="):
        class _NoRow(ServiceCrudViewSet, fetch=services.schedule_get, create=services.schedule_create,
                     update=services.schedule_update, delete=services.schedule_delete):
            pass


def test_row_without_every_service_is_refused():
    with pytest.raises(TypeError, match="missing update=, delete="):
        class _Part(ServiceCrudViewSet, row="schedule", fetch=services.schedule_get, create=services.schedule_create):
            pass


def test_a_whole_class_line_names_the_services():
    class _Whole(ServiceCrudViewSet, row="schedule", fetch=services.schedule_get, create=services.schedule_create,
                 update=services.schedule_update, delete=services.schedule_delete):
        pass

    assert _Whole.crud.row == "schedule" and _Whole.crud.delete is services.schedule_delete
