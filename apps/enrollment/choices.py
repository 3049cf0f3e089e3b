from django.db import models


class ApplianceStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    REVOKED = "revoked", "Revoked"


class EnrollmentStatus(models.TextChoices):
    """One agent's request to join, from pairing code to the administrator's decision."""

    AWAITING_PROOF = "awaiting_proof", "Awaiting proof of key possession"
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed (too many wrong key proofs)"


ENROLLMENT_TRANSITIONS = {
    EnrollmentStatus.AWAITING_PROOF: {EnrollmentStatus.PENDING, EnrollmentStatus.FAILED, EnrollmentStatus.REJECTED},
    EnrollmentStatus.PENDING: {EnrollmentStatus.APPROVED, EnrollmentStatus.REJECTED},
    EnrollmentStatus.APPROVED: set(),
    EnrollmentStatus.REJECTED: set(),
    EnrollmentStatus.FAILED: set(),
}
ENROLLMENT_OPEN = (EnrollmentStatus.AWAITING_PROOF, EnrollmentStatus.PENDING)


class AuditAction(models.TextChoices):
    PAIRING_CODE_CREATED = "pairing_code_created", "Pairing code created"
    ENROLL = "enroll", "Enrollment request"
    VERIFY = "verify", "Key possession proof"
    RESULT = "result", "Enrollment result fetched"
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"
    REVOKE = "revoke", "Revoked"
    KEYS_SYNC = "keys_sync", "Authorized keys file rewritten"
