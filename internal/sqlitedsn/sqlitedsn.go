// Package sqlitedsn builds the go-sqlite3 data source name that Gantry's
// databases share: write-ahead logging, a busy timeout, foreign keys, and
// transactions that take the write lock when they begin.
package sqlitedsn

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
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

// RetryOpen calls open until it does not fail with "database is locked",
// for up to about two seconds. Processes that open a new database at once
// race to switch it to write-ahead logging, and SQLite answers the loser
// "database is locked" at once, without calling its busy handler.
func RetryOpen(ctx context.Context, open func() error) error {
	for wait := 10 * time.Millisecond; ; wait *= 2 {
		err := open()
		if err == nil || !strings.Contains(err.Error(), "database is locked") || wait > time.Second {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
