package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"gantry/sdk/workspace"
)

// maxBody bounds the JSON bodies the API reads.
const maxBody = 1 << 20

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError answers with {"error": err's message}.
func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// statusOf is the HTTP status that an error from the SDK stands for: the
// SDK refusing a request (a bad name, a missing field, a target that does
// not exist) is the client's to fix, and says how.
func statusOf(err error) int {
	switch {
	case errors.Is(err, workspace.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, workspace.ErrExists), errors.Is(err, workspace.ErrIllegalTransition), errors.Is(err, workspace.ErrImmutable):
		return http.StatusConflict
	case errors.Is(err, workspace.ErrLocked):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// fail answers with the SDK's error.
func fail(w http.ResponseWriter, err error) { writeError(w, statusOf(err), err) }

// readJSON decodes the request's body into v, refusing unknown fields so
// that a misspelt one is an error, not ignored.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return errors.New("the request has no body: send a JSON object")
		case errors.As(err, &te):
			return fmt.Errorf("field %q must be a %s, not a JSON %s", te.Field, te.Type, te.Value)
		case errors.As(err, &se):
			return fmt.Errorf("the body is not valid JSON: %v", err)
		}
		return fmt.Errorf("the body is not the expected JSON object: %v", err)
	}
	return nil
}

// num is a float that encodes NaN and infinities, which JSON lacks, as
// null.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// millis is a time as Unix milliseconds, what JavaScript's Date takes;
// the zero time is null.
type millis time.Time

func (m millis) MarshalJSON() ([]byte, error) {
	t := time.Time(m)
	if t.IsZero() {
		return []byte("null"), nil
	}
	return strconv.AppendInt(nil, t.UnixMilli(), 10), nil
}

// intParam reads the query parameter name as an integer within [lo, hi],
// def when absent.
func intParam(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("query parameter %s=%q: give a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}
