"""Sent once an agent is revoked, after its key left the tunnel's keys file.

Replication listens to stop the exports left in the revoked agent's block of NBD ports: the block goes to the next
agent approved, which must not find another agent's VMs there.
"""
import django.dispatch

appliance_revoked = django.dispatch.Signal()  # kwargs: appliance_id, nbd_ports (the block it held, list of ints)
