"""Seed 004's operations-portal paths, at the root as the seed has them (included before the console's /admin/)."""
from django.urls import path

from . import auth
from . import dashboard as dash
from . import infrastructure as infra

urlpatterns = [
    path("auth/login", auth.LoginView.as_view(), name="portal-login"),
    path("dashboard/health-summary", dash.HealthSummaryView.as_view(), name="portal-health-summary"),
    path("dashboard/snapshot-sla-compliance", dash.SnapshotSlaView.as_view(), name="portal-snapshot-sla"),
    path("dashboard/top-hosts-utilization", dash.TopHostsView.as_view(), name="portal-top-hosts"),
    path("dashboard/recent-changes", dash.RecentChangesView.as_view(), name="portal-dashboard-changes"),
    path("dashboard/coverage-risks", dash.CoverageRisksView.as_view(), name="portal-coverage-risks"),
    path("dashboard/capacity-pressure", dash.CapacityPressureView.as_view(), name="portal-capacity-pressure"),
    path("dashboard/vm-hotspots", dash.VmHotspotsView.as_view(), name="portal-vm-hotspots"),
    path("dashboard/tenant-risk-scores", dash.TenantRiskView.as_view(), name="portal-tenant-risk"),
    path("dashboard/compliance-drift", dash.ComplianceDriftView.as_view(), name="portal-compliance-drift"),
    path("dashboard/capacity-trends", dash.CapacityTrendsView.as_view(), name="portal-capacity-trends"),
    path("dashboard/trendlines", dash.TrendlinesView.as_view(), name="portal-trendlines"),
    path("domains", infra.DomainsView.as_view(), name="portal-domains"),
    path("projects", infra.ProjectsView.as_view(), name="portal-projects"),
    path("tenants", infra.ProjectsView.as_view(), name="portal-tenants"),
    path("servers", infra.ServersView.as_view(), name="portal-servers"),
    path("volumes", infra.VolumesView.as_view(), name="portal-volumes"),
    path("snapshots", infra.SnapshotsView.as_view(), name="portal-snapshots"),
    path("networks", infra.NetworksView.as_view(), name="portal-networks"),
    path("subnets", infra.SubnetsView.as_view(), name="portal-subnets"),
    path("ports", infra.PortsView.as_view(), name="portal-ports"),
    path("security-groups", infra.SecurityGroupsView.as_view(), name="portal-security-groups"),
    path("security-groups/<str:sg_id>", infra.SecurityGroupView.as_view(), name="portal-security-group"),
    path("security-group-rules", infra.SecurityGroupRulesView.as_view(), name="portal-security-group-rules"),
    path("flavors", infra.FlavorsView.as_view(), name="portal-flavors"),
    path("images", infra.ImagesView.as_view(), name="portal-images"),
    path("hypervisors", infra.HypervisorsView.as_view(), name="portal-hypervisors"),
    path("admin/flavors", infra.AdminFlavorsView.as_view(), name="portal-admin-flavors"),
    path("admin/flavors/<str:flavor_id>", infra.AdminFlavorView.as_view(), name="portal-admin-flavor"),
    path("admin/networks", infra.AdminNetworksView.as_view(), name="portal-admin-networks"),
    path("admin/networks/<str:network_id>", infra.AdminNetworkView.as_view(), name="portal-admin-network"),
    path("admin/security-groups", infra.AdminSecurityGroupsView.as_view(), name="portal-admin-security-groups"),
    path("admin/security-groups/<str:sg_id>", infra.AdminSecurityGroupView.as_view(),
         name="portal-admin-security-group"),
    path("admin/security-group-rules", infra.AdminRulesView.as_view(), name="portal-admin-rules"),
    path("admin/security-group-rules/<str:rule_id>", infra.AdminRuleView.as_view(), name="portal-admin-rule"),
]
