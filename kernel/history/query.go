package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
)

// Tail returns the last n entries across all sessions, oldest first. If
// unique is set, a source recorded more than once appears only at its
// latest occurrence, and the n entries are counted after dropping the
// repeats. n <= 0 returns no entries.
func (s *Store) Tail(ctx context.Context, n int, unique bool) ([]Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	es, err := s.latest(ctx, "", nil, n, unique)
	if err != nil {
		return nil, fmt.Errorf("history tail %d: %w", n, err)
	}
	return es, nil
}

// Search returns the latest n entries whose source matches pattern, oldest
// first; n <= 0 returns every match. The pattern is a glob matched against
// the whole source, as in IPython: * matches any run of characters
// (newlines included), ? matches one character, and [...] matches one of a
// set; matching is case-sensitive. An empty pattern matches everything. If
// unique is set, a source is returned only at its latest occurrence.
func (s *Store) Search(ctx context.Context, pattern string, n int, unique bool) ([]Entry, error) {
	if pattern == "" {
		pattern = "*"
	}
	es, err := s.latest(ctx, "WHERE source GLOB ?", []any{pattern}, n, unique)
	if err != nil {
		return nil, fmt.Errorf("history search %q: %w", pattern, err)
	}
	return es, nil
}

// latest returns the latest n (all when n <= 0) entries of the history
// table that satisfy the where clause, oldest first.
func (s *Store) latest(ctx context.Context, where string, args []any, n int, unique bool) ([]Entry, error) {
	from := "history"
	if unique {
		// Keep, for each source, only its latest row.
		from = `(SELECT session, line, source, output, row_number() OVER (
				PARTITION BY source ORDER BY session DESC, line DESC) AS rank
			FROM history ` + where + `)`
		where = "WHERE rank = 1"
	}
	if n <= 0 {
		n = -1 // SQLite: no limit
	}
	q := `SELECT session, line, source, output FROM ` + from + ` ` + where + `
		ORDER BY session DESC, line DESC LIMIT ?`
	es, err := s.query(ctx, q, append(args, n)...)
	if err != nil {
		return nil, err
	}
	slices.Reverse(es)
	return es, nil
}

// Range returns the entries of one session whose line numbers lie in
// [start, stop), in line order; stop <= 0 means through the session's last
// line.
//
// A positive session is a session number. A negative one counts back from
// the latest session in the database: -1 is the session started before the
// latest, -2 the one before that. Session 0, the caller's current session in
// the Jupyter protocol, must be resolved by the caller and is an error here.
// A session that does not exist has no entries.
func (s *Store) Range(ctx context.Context, session int64, start, stop int) ([]Entry, error) {
	es, err := s.rangeEntries(ctx, session, start, stop)
	if err != nil {
		return nil, fmt.Errorf("history range session %d lines [%d, %d): %w", session, start, stop, err)
	}
	return es, nil
}

func (s *Store) rangeEntries(ctx context.Context, session int64, start, stop int) ([]Entry, error) {
	switch {
	case session == 0:
		return nil, errors.New("session 0 (the current session) must be resolved by the caller")
	case session < 0:
		err := s.db.QueryRowContext(ctx,
			`SELECT session FROM sessions ORDER BY session DESC LIMIT 1 OFFSET ?`, -session).Scan(&session)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if stop <= 0 {
		return s.query(ctx, `SELECT session, line, source, output FROM history
			WHERE session = ? AND line >= ? ORDER BY line`, session, start)
	}
	return s.query(ctx, `SELECT session, line, source, output FROM history
		WHERE session = ? AND line >= ? AND line < ? ORDER BY line`, session, start, stop)
}

// query runs q, which selects session, line, source and output, and
// collects the rows.
func (s *Store) query(ctx context.Context, q string, args ...any) ([]Entry, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []Entry
	for rows.Next() {
		var (
			e   Entry
			out sql.NullString
		)
		if err := rows.Scan(&e.Session, &e.Line, &e.Source, &out); err != nil {
			return nil, err
		}
		e.Output, e.HasOutput = out.String, out.Valid
		es = append(es, e)
	}
	return es, rows.Err()
}
