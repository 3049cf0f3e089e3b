"""Seed 004's metering permission strings on our roles (viewer < operator < admin, apps/core/permissions.py).

The seed gives `metering:read` to admin/superadmin and `metering:write` to superadmin only: costs and usage of every
tenant are an administrator's business, so both are our admin role.
"""
from __future__ import annotations

from apps.core.choices import Role
from apps.core.permissions import PermissionTable

PERMISSIONS = PermissionTable({
    "metering:read": Role.ADMIN,  # configuration, usage, efficiency, chargeback, pricing, exports
    "metering:write": Role.ADMIN,  # configuration and pricing changes, flavor sync
})
