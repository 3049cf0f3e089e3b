"""Wire-faithful stand-ins for the peers the platform talks to (CloudStack, vCenter, ...)."""
