"""A live failover waiting for its final sync goes on as soon as that replication job finishes; a deleted failover
job releases its VM context's hold."""
from __future__ import annotations

from django.db.models.signals import post_delete
from django.dispatch import receiver

from apps.replication.signals import replication_finished

from .choices import FailoverStatus
from .models import FailoverJob, hold_vm_context
from .tasks import resume_after_final_sync as resume_task


@receiver(replication_finished, dispatch_uid="failover.resume_after_final_sync")
def resume_after_final_sync(sender, job, **kwargs) -> None:
    for job_id in FailoverJob.objects.filter(status=FailoverStatus.PENDING, final_sync_job_id=job.job_id).values_list(
            "job_id", flat=True):
        resume_task.apply_async(args=[job_id], queue="failover")


@receiver(post_delete, sender=FailoverJob, dispatch_uid="failover.release_hold_on_delete")
def release_hold_on_delete(sender, instance, **kwargs) -> None:
    hold_vm_context(instance.vm_context_id)
