package simulator

// Disk files for the migration lab.
//
// Stock vcsim creates a disk's descriptor and -flat.vmdk as empty files whatever the capacity,
// so a reader of the flat file (the lab serves it with nbdkit's file plugin in place of VDDK)
// would see a zero-length disk. Here the flat file is sized to the disk's capacity as a sparse
// file, the descriptor gets real VMDK descriptor text, and the capacity fields and the backing
// uuid are filled in the way vCenter reports them.

import (
	"crypto/rand"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

const labDescriptorHeader = "# Disk DescriptorFile"

// labNormalizeDiskCapacity makes capacityInBytes and capacityInKB agree. vCenter accepts either;
// when both are sent, the one the client changed relative to the existing disk wins, and for a
// new disk capacityInBytes wins. A zero capacity is left for labPrepareDiskFile to take from an
// existing file.
func labNormalizeDiskCapacity(disk, old *types.VirtualDisk) {
	bytes := disk.CapacityInBytes
	if old != nil && bytes == old.CapacityInBytes && disk.CapacityInKB != old.CapacityInKB {
		bytes = 0 // only the KB field was edited
	}
	if bytes == 0 {
		bytes = disk.CapacityInKB * 1024
	}
	disk.CapacityInBytes = bytes
	disk.CapacityInKB = bytes / 1024
}

// labValidateReconfig rejects disk edits vCenter rejects, before configureDevices starts to
// change the device list (its error paths are not transactional).
func (vm *VirtualMachine) labValidateReconfig(spec *types.VirtualMachineConfigSpec) types.BaseMethodFault {
	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	for i, change := range spec.DeviceChange {
		dspec := change.GetVirtualDeviceConfigSpec()
		disk, ok := dspec.Device.(*types.VirtualDisk)
		if !ok || dspec.Operation != types.VirtualDeviceConfigSpecOperationEdit {
			continue
		}
		old, ok := devices.FindByKey(disk.Key).(*types.VirtualDisk)
		if !ok {
			continue // configureDevices reports the unknown key
		}
		probe := *disk
		labNormalizeDiskCapacity(&probe, old)
		if probe.CapacityInBytes < getDiskSize(old) {
			return &types.InvalidDeviceSpec{
				InvalidVmConfig: types.InvalidVmConfig{Property: "capacityInBytes"},
				DeviceIndex:     int32(i),
			}
		}
	}
	return nil
}

// labPrepareDiskFile runs once vdmCreateVirtualDisk has made (or found) the disk's files: it
// grows the -flat.vmdk to the capacity as a sparse file, takes the capacity from the file when a
// client attaches an existing disk without one, writes the descriptor, and sets backing.uuid.
func (vm *VirtualMachine) labPrepareDiskFile(dc *Datacenter, disk *types.VirtualDisk, fileName string) types.BaseMethodFault {
	descriptor, fault := Map.FileManager().resolve(&dc.Self, fileName)
	if fault != nil {
		return fault
	}
	flat := vdmNames(descriptor)[0]

	info, err := os.Stat(flat)
	if err != nil {
		return &types.FileNotFound{FileFault: types.FileFault{File: flat}}
	}
	if disk.CapacityInBytes == 0 {
		disk.CapacityInBytes = info.Size()
		disk.CapacityInKB = info.Size() / 1024
	}
	// Never shrink: the file may hold data beyond a capacity a client got wrong, and vCenter
	// cannot shrink disks either.
	if info.Size() < disk.CapacityInBytes {
		if err := os.Truncate(flat, disk.CapacityInBytes); err != nil {
			return &types.CannotCreateFile{FileFault: types.FileFault{File: flat}}
		}
	}

	if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
		if b.Uuid == "" {
			b.Uuid = labDiskUUID()
		}
		thin := b.ThinProvisioned != nil && *b.ThinProvisioned
		if err := labWriteDescriptor(descriptor, flat, disk.CapacityInBytes, b.Uuid, thin); err != nil {
			return &types.CannotCreateFile{FileFault: types.FileFault{File: descriptor}}
		}
	}
	return nil
}

// labDiskUUID returns a disk uuid in the form ESXi gives them (VMware's 6000C29 prefix).
func labDiskUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := fmt.Sprintf("6000C29%x", b[:])[:32]
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// labWriteDescriptor writes a monolithic-flat VMDK descriptor so tools such as qemu-img can open
// the disk through its .vmdk. A descriptor somebody else wrote (not empty, not ours) is kept.
func labWriteDescriptor(descriptor, flat string, capacity int64, uuid string, thin bool) error {
	current, err := os.ReadFile(descriptor)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if len(current) > 0 && !strings.HasPrefix(string(current), labDescriptorHeader) {
		return nil
	}

	sectors := (capacity + 511) / 512
	thinFlag := "0"
	if thin {
		thinFlag = "1"
	}
	ddbUUID := strings.ToLower(strings.ReplaceAll(uuid, "-", ""))
	var pairs []string
	for i := 0; i+2 <= len(ddbUUID); i += 2 {
		pairs = append(pairs, ddbUUID[i:i+2])
	}
	text := fmt.Sprintf(`%s
version=1
encoding="UTF-8"
CID=fffffffe
parentCID=ffffffff
createType="vmfs"

# Extent description
RW %d VMFS "%s"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
ddb.thinProvisioned = "%s"
ddb.uuid = "%s"
ddb.virtualHWVersion = "13"
`, labDescriptorHeader, sectors, path.Base(flat), thinFlag, strings.Join(pairs, " "))
	return os.WriteFile(descriptor, []byte(text), 0600)
}
