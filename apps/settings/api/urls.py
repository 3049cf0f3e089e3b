from rest_framework.routers import SimpleRouter

from apps.core.api.routes import routes

from . import cloudstack_views as csv
from . import views

router = SimpleRouter(trailing_slash=False)
router.register("vmware-credentials", views.VMwareCredentialViewSet, basename="vmware-credentials")
router.register("guest-os-mappings", views.GuestOsMappingViewSet, basename="guest-os-mappings")
router.register("storage-mappings", views.StorageMappingViewSet, basename="storage-mappings")
router.register("cloud-resources", views.CloudResourceViewSet, basename="cloud-resources")

urlpatterns = [
    *routes([
        ("ossea/config", views.OsseaConfigView, "ossea-config"),
        ("ossea/discover-resources", csv.DiscoverAllView, "ossea-discover-resources"),
        ("ossea/config-streamlined", csv.StreamlinedConfigView, "ossea-config-streamlined"),
        ("settings/cloudstack/test-connection", csv.TestConnectionView, "cs-test-connection"),
        ("settings/cloudstack/detect-oma-vm", csv.DetectOmaVmView, "cs-detect-oma-vm"),
        ("settings/cloudstack/networks", csv.NetworksView, "cs-networks"),
        ("settings/cloudstack/validate", csv.ValidateView, "cs-validate"),
        ("settings/cloudstack/discover-all", csv.DiscoverAllView, "cs-discover-all"),
        ("networks/available", csv.AvailableNetworksView, "networks-available"),
        ("networks/resolve", csv.ResolveNetworksView, "networks-resolve"),
        ("service-offerings/available", csv.AvailableServiceOfferingsView, "service-offerings-available"),
    ]),
    *router.urls,
]
