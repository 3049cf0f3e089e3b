//go:build !linux
// +build !linux

package simulator

import (
	"math"
	"os"
)

// labNextData treats the whole file as data where sparse-file seeking is not available (or
// its whence values differ from Linux's); labHashDisk then reads every block.
func labNextData(f *os.File, off int64) (data, hole int64, err error) {
	return off, math.MaxInt64, nil
}
