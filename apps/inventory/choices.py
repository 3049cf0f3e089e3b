from django.db import models


class VMContextStatus(models.TextChoices):
    DISCOVERED = "discovered", "Discovered"
    REPLICATING = "replicating", "Replicating"
    READY_FOR_FAILOVER = "ready_for_failover", "Ready for failover"
    TEST_FAILOVER = "test_failover", "Test failover running"
    FAILED_OVER = "failed_over", "Failed over"
    FAILED = "failed", "Failed"


TRANSITIONS = {
    VMContextStatus.DISCOVERED: {VMContextStatus.REPLICATING, VMContextStatus.FAILED},
    VMContextStatus.REPLICATING: {VMContextStatus.READY_FOR_FAILOVER, VMContextStatus.FAILED, VMContextStatus.DISCOVERED},
    VMContextStatus.READY_FOR_FAILOVER: {VMContextStatus.REPLICATING, VMContextStatus.TEST_FAILOVER,
                                         VMContextStatus.FAILED_OVER, VMContextStatus.FAILED},
    VMContextStatus.TEST_FAILOVER: {VMContextStatus.READY_FOR_FAILOVER, VMContextStatus.FAILED},
    VMContextStatus.FAILED_OVER: set(),
    VMContextStatus.FAILED: {VMContextStatus.REPLICATING, VMContextStatus.READY_FOR_FAILOVER, VMContextStatus.DISCOVERED},
}
