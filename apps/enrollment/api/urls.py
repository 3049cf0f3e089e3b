from django.urls import path

from . import views

urlpatterns = [
    path("admin/vma/pairing-code", views.PairingCodeView.as_view(), name="vma-pairing-code"),
    path("admin/vma/pending", views.PendingView.as_view(), name="vma-pending"),
    path("admin/vma/approve/<str:enrollment_id>", views.ApproveView.as_view(), name="vma-approve"),
    path("admin/vma/reject/<str:enrollment_id>", views.RejectView.as_view(), name="vma-reject"),
    path("admin/vma/active", views.ActiveView.as_view(), name="vma-active"),
    path("admin/vma/revoke/<str:appliance_id>", views.RevokeView.as_view(), name="vma-revoke"),
    path("admin/vma/audit", views.AuditView.as_view(), name="vma-audit"),
    path("vma/enroll", views.EnrollView.as_view(), name="vma-enroll"),
    path("vma/enroll/verify", views.VerifyView.as_view(), name="vma-enroll-verify"),
    path("vma/enroll/result", views.ResultView.as_view(), name="vma-enroll-result"),
]
