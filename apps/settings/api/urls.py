from django.urls import path
from rest_framework.routers import SimpleRouter

from . import cloudstack_views as csv
from . import views

router = SimpleRouter(trailing_slash=False)
router.register("vmware-credentials", views.VMwareCredentialViewSet, basename="vmware-credentials")
router.register("guest-os-mappings", views.GuestOsMappingViewSet, basename="guest-os-mappings")
router.register("storage-mappings", views.StorageMappingViewSet, basename="storage-mappings")
router.register("cloud-resources", views.CloudResourceViewSet, basename="cloud-resources")

urlpatterns = [
    path("ossea/config", views.OsseaConfigView.as_view(), name="ossea-config"),
    path("ossea/discover-resources", csv.DiscoverAllView.as_view(), name="ossea-discover-resources"),
    path("ossea/config-streamlined", csv.StreamlinedConfigView.as_view(), name="ossea-config-streamlined"),
    path("settings/cloudstack/test-connection", csv.TestConnectionView.as_view(), name="cs-test-connection"),
    path("settings/cloudstack/detect-oma-vm", csv.DetectOmaVmView.as_view(), name="cs-detect-oma-vm"),
    path("settings/cloudstack/networks", csv.NetworksView.as_view(), name="cs-networks"),
    path("settings/cloudstack/validate", csv.ValidateView.as_view(), name="cs-validate"),
    path("settings/cloudstack/discover-all", csv.DiscoverAllView.as_view(), name="cs-discover-all"),
    path("networks/available", csv.AvailableNetworksView.as_view(), name="networks-available"),
    path("networks/resolve", csv.ResolveNetworksView.as_view(), name="networks-resolve"),
    path("service-offerings/available", csv.AvailableServiceOfferingsView.as_view(), name="service-offerings-available"),
    *router.urls,
]
