from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=False)
router.register("waves", views.WaveViewSet, basename="waves")

urlpatterns = router.urls
