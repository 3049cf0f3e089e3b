"""Replication jobs, change ids and progress, and a VM context's replication detail."""
from apps.core.api.routes import routes

from . import views

urlpatterns = routes([
    ("replications", views.ReplicationListCreateView, "replications"),
    ("replications/changeid", views.ChangeIdView, "replications-changeid"),
    ("replications/<str:job_id>", views.ReplicationDetailView, "replication-detail"),
    ("replications/<str:job_id>/changeid", views.ChangeIdStoreView, "replication-changeid"),
    ("replications/<str:job_id>/progress", views.ReplicationProgressView, "replication-progress"),
    ("replication/jobs", views.LegacyJobListView, "replication-jobs"),
    ("replication/jobs/<str:job_id>", views.ReplicationDetailView.as_view(http_method_names=["get", "head", "options"]),
     "replication-job-detail"),
    ("progress/<str:job_id>", views.ProgressProxyView, "progress-proxy"),
    # After inventory's urls (config/urls.py): its vm-contexts/ungrouped wins over vm-contexts/<vm_name>.
    ("vm-contexts/<str:context_id>/recent-jobs", views.RecentJobsView, "vm-context-recent-jobs"),
    ("vm-contexts/<str:vm_name>", views.VMContextDetailView, "vm-context-detail"),
])
