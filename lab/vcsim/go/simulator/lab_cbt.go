package simulator

// Changed Block Tracking (CBT) for the migration lab.
//
// Upstream vcsim has no QueryChangedDiskAreas. vcsim has no delta disks either: a VM's disk is
// its -flat.vmdk, which tests write into to play the guest. So CBT is modelled on content rather
// than on intercepted writes: whenever a snapshot is taken of a VM with changeTrackingEnabled,
// every disk's flat file is hashed in 64 KiB blocks, the disk gets a new change id in VMware's
// form ("52 xx xx xx xx xx xx xx-xx xx xx xx xx xx xx xx/N"), and the block hashes are kept
// under that id. QueryChangedDiskAreas then compares the snapshot's hashes with those of the
// change id it is given ('*': with an all-zero disk), so it reports exactly the 64 KiB blocks
// whose content differs, merged into extents.

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

const (
	labCBTBlockSize = 64 * 1024
	// Change ids remembered per disk. Asking for an older one is answered like a change id
	// from a reset tracking file (InvalidArgument), which a backup tool must handle with a
	// full copy anyway; the bound keeps a long-running lab from growing without limit.
	labCBTHistory = 64
)

// labBlockHash is a 128-bit hash of a block; the zero value marks a block that reads as all
// zeros. Two independently seeded maphash values rather than SHA-256: Go 1.19's SHA-256 runs at
// about 190 MB/s here against 2.8 GB/s, and a snapshot hashes every allocated byte of every
// disk. Collisions are not a concern: nobody can choose data against the per-process secret
// seeds, and an accidental one is a 2^-128 event.
type labBlockHash [2]uint64

var labSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func labHashBlock(b []byte) labBlockHash {
	var h maphash.Hash
	var out labBlockHash
	for i, seed := range labSeeds {
		h.SetSeed(seed)
		_, _ = h.Write(b)
		out[i] = h.Sum64()
	}
	return out
}

// labBlockMap is the content of one disk at one change id.
type labBlockMap struct {
	size   int64
	blocks []labBlockHash
}

func (m *labBlockMap) at(i int64) labBlockHash {
	if m == nil || i >= int64(len(m.blocks)) {
		return labBlockHash{}
	}
	return m.blocks[i]
}

// labDiskTracker plays the role of a disk's -ctk.vmdk.
type labDiskTracker struct {
	file  string // backing fileName the tracker belongs to
	uuid  [16]byte
	seq   int
	maps  map[string]*labBlockMap
	order []string // change ids, oldest first
}

func (t *labDiskTracker) record(m *labBlockMap) string {
	t.seq++
	u := t.uuid
	id := fmt.Sprintf("%02x %02x %02x %02x %02x %02x %02x %02x-%02x %02x %02x %02x %02x %02x %02x %02x/%d",
		u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15], t.seq)
	t.maps[id] = m
	t.order = append(t.order, id)
	if len(t.order) > labCBTHistory {
		delete(t.maps, t.order[0])
		t.order = t.order[1:]
	}
	return id
}

// Trackers live outside VirtualMachine so the upstream type stays as Debian ships it.
// Callers hold the VM's lock; the mutex only guards the map itself.
var labCBT = struct {
	sync.Mutex
	vms map[types.ManagedObjectReference]map[int32]*labDiskTracker
}{vms: make(map[types.ManagedObjectReference]map[int32]*labDiskTracker)}

// labTracker returns the tracker of a VM's disk, making one when create is set. A tracker made
// for another file (the device key was reused for a different disk) is replaced.
func labTracker(vm types.ManagedObjectReference, key int32, file string, create bool) *labDiskTracker {
	labCBT.Lock()
	defer labCBT.Unlock()

	disks := labCBT.vms[vm]
	if t := disks[key]; t != nil && t.file == file {
		return t
	}
	if !create {
		return nil
	}
	if disks == nil {
		disks = make(map[int32]*labDiskTracker)
		labCBT.vms[vm] = disks
	}
	t := &labDiskTracker{file: file, maps: make(map[string]*labBlockMap)}
	_, _ = rand.Read(t.uuid[:])
	t.uuid[0] = 0x52 // ESXi's change ids start with 52, as its tracking-file uuids do
	disks[key] = t
	return t
}

// labForgetTracking drops a VM's trackers (VM destroyed, or tracking switched off: vCenter
// deletes the -ctk.vmdk files then, so every earlier change id becomes invalid).
func labForgetTracking(vm types.ManagedObjectReference) {
	labCBT.Lock()
	delete(labCBT.vms, vm)
	labCBT.Unlock()
}

func labCBTEnabled(vm *VirtualMachine) bool {
	return vm.Config.ChangeTrackingEnabled != nil && *vm.Config.ChangeTrackingEnabled
}

func labFlatFile(vm *VirtualMachine, fileName string) (string, types.BaseMethodFault) {
	dc := Map.getEntityDatacenter(vm)
	descriptor, fault := Map.FileManager().resolve(&dc.Self, fileName)
	if fault != nil {
		return "", fault
	}
	return vdmNames(descriptor)[0], nil
}

// labHashDisk hashes the first size bytes of a flat file in 64 KiB blocks. Holes are skipped
// without reading (disks are sparse and mostly empty); bytes past the end of a short file read
// as zeros, as they do through a disk of that capacity.
func labHashDisk(file string, size int64) (*labBlockMap, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	const bs = labCBTBlockSize
	m := &labBlockMap{size: size, blocks: make([]labBlockHash, (size+bs-1)/bs)}
	buf := make([]byte, bs)
	zero := make([]byte, bs)

	for off := int64(0); off < size; {
		data, hole, err := labNextData(f, off)
		if err != nil {
			return nil, err
		}
		if data < 0 || data >= size {
			break
		}
		if hole > size {
			hole = size
		}
		for b := data / bs; b*bs < hole; b++ {
			start := b * bs
			n := int64(bs)
			if size-start < n {
				n = size - start
			}
			got, err := f.ReadAt(buf[:n], start)
			if err != nil && err != io.EOF {
				return nil, err
			}
			copy(buf[got:n], zero)
			if !bytes.Equal(buf[:n], zero[:n]) {
				m.blocks[b] = labHashBlock(buf[:n])
			}
		}
		off = (hole + bs - 1) / bs * bs
	}
	return m, nil
}

// labTrackChanges runs at CreateSnapshot: with tracking on, each disk gets a new change id,
// reported on its backing (and so on the snapshot's copy of the config), with its content.
func (vm *VirtualMachine) labTrackChanges() types.BaseMethodFault {
	if !labCBTEnabled(vm) {
		return nil
	}
	updated := false
	for _, device := range vm.Config.Hardware.Device {
		disk, ok := device.(*types.VirtualDisk)
		if !ok {
			continue
		}
		backing, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if !ok {
			continue
		}
		flat, fault := labFlatFile(vm, backing.FileName)
		if fault != nil {
			return fault
		}
		m, err := labHashDisk(flat, getDiskSize(disk))
		if err != nil {
			return &types.FileFault{File: backing.FileName}
		}
		backing.ChangeId = labTracker(vm.Self, disk.Key, backing.FileName, true).record(m)
		updated = true
	}
	if updated {
		Map.Update(vm, []types.PropertyChange{{Name: "config.hardware.device", Val: vm.Config.Hardware.Device}})
	}
	return nil
}

// labChangeTrackingReconfigured follows a successful ReconfigVM: switching tracking off
// invalidates every change id and clears them from the disks, as on ESXi.
func (vm *VirtualMachine) labChangeTrackingReconfigured(spec *types.VirtualMachineConfigSpec) {
	if spec.ChangeTrackingEnabled == nil || *spec.ChangeTrackingEnabled {
		return
	}
	labForgetTracking(vm.Self)
	for _, device := range vm.Config.Hardware.Device {
		if disk, ok := device.(*types.VirtualDisk); ok {
			if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				b.ChangeId = ""
			}
		}
	}
	Map.Update(vm, []types.PropertyChange{{Name: "config.hardware.device", Val: vm.Config.Hardware.Device}})
}

// QueryChangedDiskAreas implements VirtualMachine.QueryChangedDiskAreas: the areas of disk
// deviceKey, from startOffset to the end of the disk, whose content at snapshot differs from
// its content at changeId ('*': every area that is not all zeros).
func (vm *VirtualMachine) QueryChangedDiskAreas(ctx *Context, req *types.QueryChangedDiskAreas) soap.HasFault {
	body := new(methods.QueryChangedDiskAreasBody)
	info, msg, fault := vm.labChangedDiskAreas(req)
	if fault != nil {
		body.Fault_ = Fault(msg, fault)
		return body
	}
	body.Res = &types.QueryChangedDiskAreasResponse{Returnval: *info}
	return body
}

func labInvalidArgument(name string) (*types.DiskChangeInfo, string, types.BaseMethodFault) {
	return nil, "A specified parameter was not correct: " + name, &types.InvalidArgument{InvalidProperty: name}
}

func (vm *VirtualMachine) labChangedDiskAreas(req *types.QueryChangedDiskAreas) (*types.DiskChangeInfo, string, types.BaseMethodFault) {
	devices := vm.Config.Hardware.Device
	if req.Snapshot != nil {
		snapshot, ok := Map.Get(*req.Snapshot).(*VirtualMachineSnapshot)
		if !ok || snapshot.Vm != vm.Self {
			return labInvalidArgument("snapshot")
		}
		devices = snapshot.Config.Hardware.Device
	} else if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
		// Without a snapshot the API compares against the live disk, which it only allows
		// while the VM is powered off.
		return nil, "The operation is not allowed in the current power state.", &types.InvalidPowerState{
			RequestedState: types.VirtualMachinePowerStatePoweredOff,
			ExistingState:  vm.Runtime.PowerState,
		}
	}

	var disk *types.VirtualDisk
	for _, device := range devices {
		if d, ok := device.(*types.VirtualDisk); ok && d.Key == req.DeviceKey {
			disk = d
		}
	}
	if disk == nil {
		return labInvalidArgument("deviceKey")
	}
	backing, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	if !ok {
		return labInvalidArgument("deviceKey")
	}

	ctk := strings.Replace(backing.FileName, ".vmdk", "-ctk.vmdk", 1)
	notTracked := func() (*types.DiskChangeInfo, string, types.BaseMethodFault) {
		return nil, "Error caused by file " + ctk, &types.FileFault{File: ctk}
	}
	if !labCBTEnabled(vm) {
		return notTracked()
	}

	size := getDiskSize(disk)
	if req.StartOffset < 0 || req.StartOffset > size {
		return labInvalidArgument("startOffset")
	}

	tracker := labTracker(vm.Self, disk.Key, backing.FileName, false)
	var current *labBlockMap
	if req.Snapshot != nil {
		if backing.ChangeId == "" || tracker == nil || tracker.maps[backing.ChangeId] == nil {
			// The snapshot was taken while tracking was off, or its tracking data is gone.
			return notTracked()
		}
		current = tracker.maps[backing.ChangeId]
	} else {
		flat, fault := labFlatFile(vm, backing.FileName)
		if fault != nil {
			return nil, "", fault
		}
		m, err := labHashDisk(flat, size)
		if err != nil {
			return nil, "Error caused by file " + backing.FileName, &types.FileFault{File: backing.FileName}
		}
		current = m
	}

	var base *labBlockMap // nil: compare with an all-zero disk
	if req.ChangeId != "*" {
		if tracker == nil || tracker.maps[req.ChangeId] == nil {
			return labInvalidArgument("changeId")
		}
		base = tracker.maps[req.ChangeId]
	}

	return &types.DiskChangeInfo{
		StartOffset: req.StartOffset,
		Length:      current.size - req.StartOffset,
		ChangedArea: labChangedAreas(base, current, req.StartOffset),
	}, "", nil
}

// labChangedAreas lists the blocks of cur from start on whose hash differs from base's,
// merging adjacent blocks into one extent.
func labChangedAreas(base, cur *labBlockMap, start int64) []types.DiskChangeExtent {
	const bs = labCBTBlockSize
	var areas []types.DiskChangeExtent
	for b := start / bs; b*bs < cur.size; b++ {
		if cur.at(b) == base.at(b) {
			continue
		}
		from, to := b*bs, (b+1)*bs
		if from < start {
			from = start
		}
		if to > cur.size {
			to = cur.size
		}
		if n := len(areas); n > 0 && areas[n-1].Start+areas[n-1].Length == from {
			areas[n-1].Length += to - from
		} else {
			areas = append(areas, types.DiskChangeExtent{Start: from, Length: to - from})
		}
	}
	return areas
}

// labSnapshotConfig returns a deep copy of a VM's config for a snapshot. Upstream stores a
// shallow copy, so the snapshot's devices are the VM's own objects and the next snapshot's
// change ids (or any later device edit) would show through on every earlier snapshot.
func labSnapshotConfig(config *types.VirtualMachineConfigInfo) types.VirtualMachineConfigInfo {
	var c types.VirtualMachineConfigInfo
	labDeepCopy(reflect.ValueOf(&c).Elem(), reflect.ValueOf(config).Elem())
	return c
}

// labDeepCopy copies src into dst following pointers, slices, maps and interfaces. Unexported
// struct fields (time.Time's internals) are copied by value, which is what they need.
func labDeepCopy(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Ptr:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Elem().Type())
		labDeepCopy(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Interface:
		if src.IsNil() {
			return
		}
		v := reflect.New(src.Elem().Type()).Elem()
		labDeepCopy(v, src.Elem())
		dst.Set(v)
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := 0; i < src.Len(); i++ {
			labDeepCopy(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		iter := src.MapRange()
		for iter.Next() {
			v := reflect.New(iter.Value().Type()).Elem()
			labDeepCopy(v, iter.Value())
			m.SetMapIndex(iter.Key(), v)
		}
		dst.Set(m)
	case reflect.Struct:
		dst.Set(src)
		for i := 0; i < src.NumField(); i++ {
			if dst.Field(i).CanSet() {
				labDeepCopy(dst.Field(i), src.Field(i))
			}
		}
	default:
		dst.Set(src)
	}
}
