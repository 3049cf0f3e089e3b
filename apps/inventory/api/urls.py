"""Discovery and the VM inventory; a VM context's detail and jobs are replication's (``apps.replication.api.urls``)."""
from django.urls import path

from . import views

urlpatterns = [
    path("discovery/discover-vms", views.DiscoverVMsView.as_view(), name="discovery-discover"),
    path("discovery/preview", views.PreviewView.as_view(), name="discovery-preview"),
    path("discovery/add-vms", views.AddVMsView.as_view(), name="discovery-add"),
    path("discovery/bulk-add", views.BulkAddView.as_view(), name="discovery-bulk-add"),
    path("discovery/ungrouped-vms", views.UngroupedVMsView.as_view(), name="discovery-ungrouped"),
    path("vm-contexts/ungrouped", views.UngroupedVMsView.as_view(), name="vm-contexts-ungrouped"),
    path("vm-contexts", views.VMContextListView.as_view(), name="vm-contexts"),
    path("vms", views.VMListView.as_view(), name="vms"),
    path("vms/inventory", views.InventoryPushView.as_view(), name="vms-inventory"),
    path("vms/discover", views.VMDiscoverView.as_view(), name="vms-discover"),
    path("vms/<str:vm_id>", views.VMDetailView.as_view(), name="vm-detail"),
]
