// Package sqlitedsn builds the go-sqlite3 data source name that Gantry's
// databases share: write-ahead logging, a busy timeout, foreign keys, and
// transactions that take the write lock when they begin.
package sqlitedsn

import (
	"fmt"
	"net/url"
	"path/filepath"
	"time"
)

// For returns the data source name of the database file at the absolute
// path abs, whose connections wait up to busy for another writer.
func For(abs string, busy time.Duration) string {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busy.Milliseconds()))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_foreign_keys", "1")
	// Take the write lock when a transaction begins, so that two writers
	// wait for each other instead of failing to upgrade a read lock.
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}
