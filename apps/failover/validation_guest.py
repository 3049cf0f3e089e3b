"""The readiness check of the guest itself: whether it can be converted for KVM (`steps/convert.py`), and how the
VM's last failovers went (conversion seconds, whether the guest answered after the start).

A mixin of `validation.Validator`: it reads the validator's VM context, failover type and custom_config.
"""
from __future__ import annotations

from . import bootcheck, conf, conversion
from .checks import Check
from .models import FailoverJob

HISTORY = 3  # the last failovers shown in the check's details


def history(vm_context) -> list[dict]:
    """The VM's last failovers that converted or verified its guest: what an operator looks at before the next."""
    rows = []
    for job in (FailoverJob.objects.filter(vm_context=vm_context).exclude(conversion={}, boot_verification={})
                .order_by("-created_at", "-id")[:HISTORY]):
        rows.append({"job_id": job.job_id, "job_type": job.job_type, "status": job.status,
                     "conversion": job.conversion.get("status", ""),
                     "conversion_seconds": job.conversion.get("seconds"),
                     "booted": job.boot_verification.get("booted"),
                     "boot_seconds": job.boot_verification.get("seconds"),
                     "boot": bootcheck.summary(job.boot_verification)})
    return rows


class GuestChecks:
    def check_guest(self, check: Check) -> None:
        windows = conversion.is_windows(self.vm.guest_os_id)
        skipped = bool(conversion.skip_reason(self.custom))
        check.details = {"guest_os_id": self.vm.guest_os_id, "windows": windows, "conversion": not skipped,
                         "virtio_win": bool(conf.virtio_win()) if windows else None,
                         "history": history(self.vm)}
        if skipped:
            check.message = "The guest will not be converted: it must already boot on KVM (virtio)"
        elif windows and not conf.virtio_win():
            check.fail("A Windows guest needs the virtio-win drivers to be converted, and MP_VIRTIO_WIN is not set: "
                       "the conversion would fail",
                       "Set MP_VIRTIO_WIN to the virtio-win ISO or directory on the control plane",
                       "Or skip the conversion (custom_config.skip_conversion) if the guest has virtio drivers")
        else:
            check.message = "The guest will be converted with virt-v2v-in-place" + (
                " (virtio-win drivers configured)" if windows else "")
        last = check.details["history"][0] if check.details["history"] else None
        if last and last["boot"] and check.status != "fail":
            check.message += f"; last failover ({last['job_id']}): {last['boot']}"
