//go:build linux
// +build linux

package simulator

import (
	"os"
	"syscall"
)

// Linux lseek whence values for sparse files (not exported by package syscall).
const (
	labSeekData = 3
	labSeekHole = 4
)

// labNextData returns the first data region at or after off as [data, hole); data is -1 when
// only holes remain. File systems without hole reporting present the file as one data region.
func labNextData(f *os.File, off int64) (data, hole int64, err error) {
	fd := int(f.Fd())
	data, err = syscall.Seek(fd, off, labSeekData)
	if err == syscall.ENXIO {
		return -1, -1, nil
	}
	if err != nil {
		return 0, 0, err
	}
	hole, err = syscall.Seek(fd, data, labSeekHole)
	if err != nil {
		return 0, 0, err
	}
	return data, hole, nil
}
