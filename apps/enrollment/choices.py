"""Enrollment's vocabularies (declared as words, see ``apps.core.choices.vocabulary``) and its transitions."""
from apps.core.choices import vocabulary

ApplianceStatus = vocabulary("ApplianceStatus", """
    pending: Pending approval
    approved rejected revoked
""")

# One agent's request to join, from pairing code to the administrator's decision.
EnrollmentStatus = vocabulary("EnrollmentStatus", """
    awaiting_proof: Awaiting proof of key possession
    pending: Pending approval
    approved rejected
    failed: Failed (too many wrong key proofs)
""")

ENROLLMENT_TRANSITIONS = {
    EnrollmentStatus.AWAITING_PROOF: {EnrollmentStatus.PENDING, EnrollmentStatus.FAILED, EnrollmentStatus.REJECTED},
    EnrollmentStatus.PENDING: {EnrollmentStatus.APPROVED, EnrollmentStatus.REJECTED},
    EnrollmentStatus.APPROVED: set(),
    EnrollmentStatus.REJECTED: set(),
    EnrollmentStatus.FAILED: set(),
}
ENROLLMENT_OPEN = (EnrollmentStatus.AWAITING_PROOF, EnrollmentStatus.PENDING)

AuditAction = vocabulary("AuditAction", """
    pairing_code_created: Pairing code created
    enroll: Enrollment request
    verify: Key possession proof
    result: Enrollment result fetched
    approve: Approved
    reject: Rejected
    revoke: Revoked
    keys_sync: Authorized keys file rewritten
""")
