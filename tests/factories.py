"""factory_boy factories for the control plane's models."""
import factory

from apps.inventory.models import VMContext, VMDisk, VMNic
from apps.settings.models import OsseaConfig, VMwareCredential


class OsseaConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OsseaConfig

    name = factory.Sequence(lambda n: f"cloud-{n}")
    api_url = "http://127.0.0.1:1/client/api"
    api_key = "key"
    secret_key = "secret"
    zone = "zone1"


class CredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VMwareCredential

    name = factory.Sequence(lambda n: f"vc-{n}")
    vcenter_host = "127.0.0.1"
    username = "user"
    password = "pass"
    datacenter = "DC0"
    is_default = True


class VMContextFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VMContext

    vm_name = factory.Sequence(lambda n: f"vm-{n}")
    context_id = factory.LazyAttribute(lambda o: f"ctx-{o.vm_name}")
    vm_id = factory.Sequence(lambda n: f"4205a841-0000-0000-0000-{n:012d}")
    moref = factory.Sequence(lambda n: f"vm-{1000 + n}")
    vm_path = factory.LazyAttribute(lambda o: f"/DC0/vm/{o.vm_name}")
    vcenter_host = "127.0.0.1"
    datacenter = "DC0"
    cpu_count = 2
    memory_mb = 2048


class VMDiskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VMDisk

    vm_context = factory.SubFactory(VMContextFactory)
    disk_key = factory.Sequence(lambda n: 2000 + n)
    unit_number = factory.Sequence(lambda n: n)
    disk_id = factory.LazyAttribute(lambda o: f"disk-{o.unit_number}")
    capacity_bytes = 1024 ** 3


class VMNicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VMNic

    vm_context = factory.SubFactory(VMContextFactory)
    label = "Network adapter 1"
    network_name = "VM Network"
    mac_address = "00:50:56:00:00:01"
    adapter_type = "vmxnet3"


def vm_with_disks(n_disks: int = 2, **kwargs) -> VMContext:
    context = VMContextFactory(**kwargs)
    for unit in range(n_disks):
        VMDiskFactory(vm_context=context, unit_number=unit, disk_id=f"disk-{unit}", disk_key=2000 + unit)
    VMNicFactory(vm_context=context)
    return context
