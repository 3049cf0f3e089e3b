"""A VM's state in the inventory (declared as words, see ``apps.core.choices.vocabulary``) and its transitions."""
from apps.core.choices import vocabulary

VMContextStatus = vocabulary("VMContextStatus", """
    discovered replicating
    ready_for_failover: Ready for failover
    test_failover: Test failover running
    failed_over: Failed over
    failed
""")

TRANSITIONS = {
    VMContextStatus.DISCOVERED: {VMContextStatus.REPLICATING, VMContextStatus.FAILED},
    VMContextStatus.REPLICATING: {VMContextStatus.READY_FOR_FAILOVER, VMContextStatus.FAILED, VMContextStatus.DISCOVERED},
    VMContextStatus.READY_FOR_FAILOVER: {VMContextStatus.REPLICATING, VMContextStatus.TEST_FAILOVER,
                                         VMContextStatus.FAILED_OVER, VMContextStatus.FAILED},
    VMContextStatus.TEST_FAILOVER: {VMContextStatus.READY_FOR_FAILOVER, VMContextStatus.FAILED},
    VMContextStatus.FAILED_OVER: set(),
    VMContextStatus.FAILED: {VMContextStatus.REPLICATING, VMContextStatus.READY_FOR_FAILOVER, VMContextStatus.DISCOVERED},
}
