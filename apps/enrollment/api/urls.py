from apps.core.api.routes import routes

from . import views

urlpatterns = routes([
    ("admin/vma/pairing-code", views.PairingCodeView, "vma-pairing-code"),
    ("admin/vma/pending", views.PendingView, "vma-pending"),
    ("admin/vma/approve/<str:enrollment_id>", views.ApproveView, "vma-approve"),
    ("admin/vma/reject/<str:enrollment_id>", views.RejectView, "vma-reject"),
    ("admin/vma/active", views.ActiveView, "vma-active"),
    ("admin/vma/revoke/<str:appliance_id>", views.RevokeView, "vma-revoke"),
    ("admin/vma/audit", views.AuditView, "vma-audit"),
    ("vma/enroll", views.EnrollView, "vma-enroll"),
    ("vma/enroll/verify", views.VerifyView, "vma-enroll-verify"),
    ("vma/enroll/result", views.ResultView, "vma-enroll-result"),
])
