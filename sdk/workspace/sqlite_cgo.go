//go:build cgo

package workspace

import (
	"errors"
	"syscall"

	"github.com/mattn/go-sqlite3"
)

// sqliteKind classifies an error of the SQLite driver.
func sqliteKind(err error) sqliteErrKind {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return sqliteBusy
		case sqlite3.ErrNotADB:
			return sqliteNotADB
		case sqlite3.ErrFull:
			return sqliteFull
		case sqlite3.ErrIoErr:
			if se.SystemErrno == syscall.ENOSPC {
				return sqliteFull
			}
		}
	}
	return sqliteOther
}
