"""Replication jobs, change ids and progress, and a VM context's replication detail."""
from django.urls import path

from . import views

urlpatterns = [
    path("replications", views.ReplicationListCreateView.as_view(), name="replications"),
    path("replications/changeid", views.ChangeIdView.as_view(), name="replications-changeid"),
    path("replications/<str:job_id>", views.ReplicationDetailView.as_view(), name="replication-detail"),
    path("replications/<str:job_id>/changeid", views.ChangeIdStoreView.as_view(), name="replication-changeid"),
    path("replications/<str:job_id>/progress", views.ReplicationProgressView.as_view(), name="replication-progress"),
    path("replication/jobs", views.LegacyJobListView.as_view(), name="replication-jobs"),
    path("replication/jobs/<str:job_id>", views.ReplicationDetailView.as_view(http_method_names=["get", "head", "options"]),
         name="replication-job-detail"),
    path("progress/<str:job_id>", views.ProgressProxyView.as_view(), name="progress-proxy"),
    # After inventory's urls (config/urls.py): its vm-contexts/ungrouped wins over vm-contexts/<vm_name>.
    path("vm-contexts/<str:context_id>/recent-jobs", views.RecentJobsView.as_view(), name="vm-context-recent-jobs"),
    path("vm-contexts/<str:vm_name>", views.VMContextDetailView.as_view(), name="vm-context-detail"),
]
