"""VMA: the VMware-side agent of the migration platform.

It discovers VMs in a vCenter, replicates their disks with Changed Block Tracking into NBD
exports of the control plane, and answers the control plane's API of seed 002 on port 8081.
It never imports Django: it talks to the control plane over HTTP only.
"""

__version__ = "0.1.0"
