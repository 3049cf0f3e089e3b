from apps.core.choices import vocabulary

# The actions of the unified POST /api/v1/ossea/config.
OsseaConfigAction = vocabulary("OsseaConfigAction", "get create update delete test")

CloudResourceKind = vocabulary("CloudResourceKind", """
    volume
    attachment: Volume attachment
    snapshot: Volume snapshot
    vm: Virtual machine
""")

# destroyed: without expunge (the key may not expunge), CloudStack expunges it after its expunge delay.
# orphaned: its owner let it go (a rollback could not remove it); the orphan sweep retries; listed for the operator.
CloudResourceState = vocabulary("CloudResourceState", """
    created
    released: Handed over (kept)
    removed
    destroyed: Destroyed, expunged by CloudStack later
    orphaned: Left behind (orphan sweep retries)
""")

# What the orphan sweep looks at: nothing handed over, nothing already gone.
SWEPT = (CloudResourceState.CREATED, CloudResourceState.ORPHANED)
