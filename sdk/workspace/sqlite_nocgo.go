//go:build !cgo

package workspace

// sqliteKind classifies an error of the SQLite driver. Without cgo there
// is no SQLite (the driver refuses to open a database), but the package
// still builds: a remote agent, cross-built without cgo, records into a
// journal and never opens a workspace.
func sqliteKind(err error) sqliteErrKind { return sqliteOther }
