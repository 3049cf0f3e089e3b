"""Discovery and the VM inventory; a VM context's detail and jobs are replication's (``apps.replication.api.urls``)."""
from apps.core.api.routes import routes

from . import views

urlpatterns = routes([
    ("discovery/discover-vms", views.DiscoverVMsView, "discovery-discover"),
    ("discovery/preview", views.PreviewView, "discovery-preview"),
    ("discovery/add-vms", views.AddVMsView, "discovery-add"),
    ("discovery/bulk-add", views.BulkAddView, "discovery-bulk-add"),
    ("discovery/ungrouped-vms", views.UngroupedVMsView, "discovery-ungrouped"),
    ("vm-contexts/ungrouped", views.UngroupedVMsView, "vm-contexts-ungrouped"),
    ("vm-contexts", views.VMContextListView, "vm-contexts"),
    ("vms", views.VMListView, "vms"),
    ("vms/inventory", views.InventoryPushView, "vms-inventory"),
    ("vms/discover", views.VMDiscoverView, "vms-discover"),
    ("vms/<str:vm_id>", views.VMDetailView, "vm-detail"),
])
