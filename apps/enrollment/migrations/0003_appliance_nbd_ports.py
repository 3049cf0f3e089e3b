"""Each approved agent with a tunnel gets its own block of NBD ports; agents approved before are given theirs here,
in the order they were approved (one left without a block, when there are too few, opens no export until re-enrolled)."""

from django.db import migrations, models

from apps.enrollment import conf


def assign_blocks(apps, schema_editor):
    Appliance = apps.get_model("enrollment", "Appliance")
    tunnel = conf.tunnel_conf()
    taken: list[str] = []
    for appliance in (Appliance.objects.filter(status="approved", tunnel_reverse_port__isnull=False)
                      .exclude(ssh_public_key="").order_by("approved_at", "id")):
        block = conf.free_nbd_block(tunnel, taken)
        if block is None:
            break
        Appliance.objects.filter(pk=appliance.pk).update(tunnel_nbd_ports=block)
        taken.append(block)


class Migration(migrations.Migration):

    dependencies = [
        ('enrollment', '0002_enrollment_tunnel'),
    ]

    operations = [
        migrations.AddField(
            model_name='appliance',
            name='tunnel_nbd_ports',
            field=models.CharField(blank=True, help_text="The NBD export ports this agent's key may open.", max_length=255, null=True, unique=True),
        ),
        migrations.RunPython(assign_blocks, migrations.RunPython.noop),
    ]
