"""Seed 004's metering and pricing paths (/api/metering/...)."""
from django.urls import path

from . import views

urlpatterns = [
    path("api/metering/config", views.ConfigView.as_view(), name="metering-config"),
    path("api/metering/overview", views.OverviewView.as_view(), name="metering-overview"),
    path("api/metering/resources", views.ResourceListView.as_view(), name="metering-resources"),
    path("api/metering/snapshots", views.SnapshotListView.as_view(), name="metering-snapshots"),
    path("api/metering/restores", views.RestoreListView.as_view(), name="metering-restores"),
    path("api/metering/api-usage", views.ApiUsageListView.as_view(), name="metering-api-usage"),
    path("api/metering/efficiency", views.EfficiencyListView.as_view(), name="metering-efficiency"),
    path("api/metering/export/resources", views.ResourceExportView.as_view(), name="metering-export-resources"),
    path("api/metering/export/snapshots", views.SnapshotExportView.as_view(), name="metering-export-snapshots"),
    path("api/metering/export/restores", views.RestoreExportView.as_view(), name="metering-export-restores"),
    path("api/metering/export/api-usage", views.ApiUsageExportView.as_view(), name="metering-export-api-usage"),
    path("api/metering/export/efficiency", views.EfficiencyExportView.as_view(), name="metering-export-efficiency"),
    path("api/metering/export/chargeback", views.ChargebackExportView.as_view(), name="metering-export-chargeback"),
    path("api/metering/pricing", views.PricingListView.as_view(), name="metering-pricing"),
    path("api/metering/pricing/sync-flavors", views.SyncFlavorsView.as_view(), name="metering-pricing-sync"),
    path("api/metering/pricing/<str:pricing_id>", views.PricingDetailView.as_view(), name="metering-pricing-entry"),
    path("api/metering/filters", views.FiltersView.as_view(), name="metering-filters"),
]
