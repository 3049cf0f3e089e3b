"""Put the lab guest on a vcsim VM: the image becomes the VM's disks' flat files, so discovery,
replication and CBT read a real guest (a bootable disk and a data disk with known files).

    vm = guest_vm(sim, si, "lab-guest", images())          # BIOS; firmware="efi" for the EFI variant
"""

from __future__ import annotations

from lab.cloudstack import storage
from lab.guest import GuestImages
from lab.guest.recipe import DATA_DISK_BYTES, DISK_BYTES
from lab.vcsim import create_vm, flat_file_path

MIB = 1024 * 1024
GUEST_ID = "debian12_64Guest"  # what vSphere reports for the Debian 12 guest the image is


def guest_vm(sim, si, name: str, guest: GuestImages, *, firmware: str = "bios", data_disk: bool = True,
             networks: tuple[str, ...] = ("VM Network",), cbt: bool = True, **vm_options):
    """A vcsim VM whose disk 0 holds the guest (`firmware` picks the BIOS or EFI image) and, if
    `data_disk`, disk 1 the data file system; the disks are exactly the images' sizes."""
    image = guest.efi if firmware == "efi" else guest.bios
    sizes = (DISK_BYTES // MIB, DATA_DISK_BYTES // MIB) if data_disk else (DISK_BYTES // MIB,)
    vm = create_vm(si, name, disks_mb=sizes, networks=networks, guest_id=GUEST_ID, firmware=firmware, cbt=cbt,
                   cpus=vm_options.pop("cpus", 1), memory_mb=vm_options.pop("memory_mb", 1024), **vm_options)
    for index, source in enumerate((image, guest.data)[:len(sizes)]):
        # Sparse: the flat file allocates what the image does (about 510 MiB of the root's 2 GiB).
        storage.copy_sparse_into(source, flat_file_path(sim, vm, index))
    return vm
