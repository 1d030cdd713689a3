package snapshot

import (
	"io/fs"
	"syscall"
)

// sysStat returns the inode, device and change time (nanoseconds) of fi.
func sysStat(fi fs.FileInfo) (ino, dev uint64, ctime int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	sec, nsec := st.Ctim.Unix()
	return uint64(st.Ino), uint64(st.Dev), sec*1e9 + nsec // widths vary by architecture
}
