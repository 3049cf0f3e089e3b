from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=False)
router.register("schedules", views.ScheduleViewSet, basename="schedules")
router.register("schedule-executions", views.ExecutionViewSet, basename="schedule-executions")
router.register("machine-groups", views.MachineGroupViewSet, basename="machine-groups")
router.register("vm-assignments", views.VMAssignmentViewSet, basename="vm-assignments")

urlpatterns = router.urls
