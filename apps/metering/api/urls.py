"""Seed 004's metering and pricing paths (/api/metering/...)."""
from apps.core.api.routes import routes

from . import views

urlpatterns = routes([
    ("api/metering/config", views.ConfigView, "metering-config"),
    ("api/metering/overview", views.OverviewView, "metering-overview"),
    ("api/metering/resources", views.ResourceListView, "metering-resources"),
    ("api/metering/snapshots", views.SnapshotListView, "metering-snapshots"),
    ("api/metering/restores", views.RestoreListView, "metering-restores"),
    ("api/metering/api-usage", views.ApiUsageListView, "metering-api-usage"),
    ("api/metering/efficiency", views.EfficiencyListView, "metering-efficiency"),
    ("api/metering/export/resources", views.ResourceExportView, "metering-export-resources"),
    ("api/metering/export/snapshots", views.SnapshotExportView, "metering-export-snapshots"),
    ("api/metering/export/restores", views.RestoreExportView, "metering-export-restores"),
    ("api/metering/export/api-usage", views.ApiUsageExportView, "metering-export-api-usage"),
    ("api/metering/export/efficiency", views.EfficiencyExportView, "metering-export-efficiency"),
    ("api/metering/export/chargeback", views.ChargebackExportView, "metering-export-chargeback"),
    ("api/metering/pricing", views.PricingListView, "metering-pricing"),
    ("api/metering/pricing/sync-flavors", views.SyncFlavorsView, "metering-pricing-sync"),
    ("api/metering/pricing/<str:pricing_id>", views.PricingDetailView, "metering-pricing-entry"),
    ("api/metering/filters", views.FiltersView, "metering-filters"),
])
