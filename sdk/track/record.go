package track

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The kinds of record.
const (
	KindMetric  = "metric"  // Name, Value and maybe Step
	KindList    = "list"    // Name and Values: a series in one record
	KindRow     = "row"     // Name and Row: one row of a table
	KindImage   = "image"   // Name and Path
	KindTag     = "tag"     // Key and Val
	KindInvalid = "invalid" // a line that is not a record: Raw and Err
)

// MaxRawBytes is how much of a malformed line an invalid Record keeps in Raw.
const MaxRawBytes = 4096

// A Record is one line of a track file.
type Record struct {
	Kind    string             // one of the Kind constants
	Name    string             // the metric, list, row or image name
	Value   float64            // a metric's value
	Step    int                // the step given, or the one StepAssigner gave; a list's first
	HasStep bool               // whether Step is set
	Values  []float64          // a list's values
	Row     map[string]float64 // a row's values by column
	Key     string             // a tag's key
	Val     string             // a tag's value
	Path    string             // an image's path, relative to the run directory unless absolute
	Time    time.Time          // when it was logged; zero if the line had no "t"
	Offset  int64              // the byte offset of its line in the track file

	// Raw is the text of an invalid line (at most MaxRawBytes of it) and
	// Err says what is wrong with it; both are empty for a valid record.
	Raw string
	Err string
}

// wireRecord is a record as JSON, before it is checked.
type wireRecord struct {
	K      string          `json:"k"`
	Name   string          `json:"name"`
	Value  json.RawMessage `json:"value"`
	Step   *int64          `json:"step"`
	Values json.RawMessage `json:"values"`
	Key    string          `json:"key"`
	Path   string          `json:"path"`
	T      *float64        `json:"t"`
}

// A lineParser parses the lines of a track file. It keeps the names it has
// seen, so that the records of one name share one string.
type lineParser struct {
	names map[string]string
}

// maxNames bounds how many names a lineParser keeps.
const maxNames = 10000

// parse parses one line, without its newline, that starts at offset off.
// A line that is not a valid record yields a KindInvalid record.
func (p *lineParser) parse(line []byte, off int64) Record {
	if r, ok := p.fastMetric(line); ok {
		r.Offset = off
		return r
	}
	r, err := decodeRecord(line)
	if err != nil {
		raw := line
		if len(raw) > MaxRawBytes {
			raw = raw[:MaxRawBytes]
		}
		return Record{Kind: KindInvalid, Offset: off, Raw: string(raw), Err: err.Error()}
	}
	r.Offset = off
	return r
}

// fastMetric parses line without encoding/json if it is a metric exactly as
// the writers in this package and gantry_run.py write them:
//
//	{"k":"metric","name":"N","value":V,"step":S,"t":T}
//
// with "step" optional and no escapes in N. It reports false for any other
// line, which then takes the general path; for the lines it accepts, it
// returns what the general path would.
func (p *lineParser) fastMetric(line []byte) (Record, bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"k":"metric","name":"`))
	if !ok {
		return Record{}, false
	}
	q := bytes.IndexByte(rest, '"')
	if q <= 0 {
		return Record{}, false
	}
	name := rest[:q]
	for _, c := range name {
		if c < 0x20 || c == '\\' {
			return Record{}, false
		}
	}
	if !utf8.Valid(name) {
		return Record{}, false
	}
	r := Record{Kind: KindMetric}
	if rest, ok = bytes.CutPrefix(rest[q+1:], []byte(`,"value":`)); !ok {
		return Record{}, false
	}
	if r.Value, rest, ok = cutNumber(rest); !ok {
		return Record{}, false
	}
	if after, found := bytes.CutPrefix(rest, []byte(`,"step":`)); found {
		n := 0
		for n < len(after) && after[n] >= '0' && after[n] <= '9' {
			n++
		}
		if n == 0 || n > 9 || (n > 1 && after[0] == '0') {
			return Record{}, false
		}
		for _, c := range after[:n] {
			r.Step = r.Step*10 + int(c-'0')
		}
		r.HasStep = true
		rest = after[n:]
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"t":`)); !ok {
		return Record{}, false
	}
	var t float64
	if t, rest, ok = cutNumber(rest); !ok || string(rest) != "}" {
		return Record{}, false
	}
	r.Time = unixTime(t)
	r.Name = p.intern(name)
	return r, true
}

// intern returns name as a string, the same string for the same name.
func (p *lineParser) intern(name []byte) string {
	if s, ok := p.names[string(name)]; ok {
		return s
	}
	s := string(name)
	if p.names == nil {
		p.names = make(map[string]string)
	}
	if len(p.names) < maxNames {
		p.names[s] = s
	}
	return s
}

// cutNumber parses the JSON number at the start of b and returns it and
// the rest of b.
func cutNumber(b []byte) (float64, []byte, bool) {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	start := i
	if n := digits(); n == 0 || (n > 1 && b[start] == '0') {
		return 0, nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return 0, nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, nil, false
		}
	}
	v, err := strconv.ParseFloat(string(b[:i]), 64)
	if err != nil {
		return 0, nil, false
	}
	return v, b[i:], true
}

// unixTime converts Unix seconds to a time, to the microsecond.
func unixTime(t float64) time.Time {
	return time.UnixMicro(int64(math.Round(t * 1e6)))
}

func decodeRecord(line []byte) (Record, error) {
	var w wireRecord
	if err := json.Unmarshal(line, &w); err != nil {
		return Record{}, err
	}
	r := Record{Kind: w.K}
	if w.T != nil {
		r.Time = unixTime(*w.T)
	}
	if w.Step != nil {
		if *w.Step < 0 || *w.Step > math.MaxInt32 {
			return Record{}, fmt.Errorf("step %d out of range", *w.Step)
		}
		r.Step, r.HasStep = int(*w.Step), true
	}
	needName := func() error {
		if w.Name == "" {
			return fmt.Errorf("%s record without a name", w.K)
		}
		r.Name = w.Name
		return nil
	}
	switch w.K {
	case KindMetric:
		if err := needName(); err != nil {
			return Record{}, err
		}
		var v *float64
		if err := unmarshalField("value", w.Value, &v); err != nil {
			return Record{}, err
		}
		if v == nil {
			return Record{}, errors.New(`metric record without a "value"`)
		}
		r.Value = *v
	case KindList:
		if err := needName(); err != nil {
			return Record{}, err
		}
		var vs []*float64
		if err := unmarshalField("values", w.Values, &vs); err != nil {
			return Record{}, err
		}
		if vs == nil {
			return Record{}, errors.New(`list record without "values"`)
		}
		r.Values = make([]float64, len(vs))
		for i, v := range vs {
			if v == nil {
				return Record{}, fmt.Errorf("list record: values[%d] is null", i)
			}
			r.Values[i] = *v
		}
	case KindRow:
		if err := needName(); err != nil {
			return Record{}, err
		}
		var vs map[string]*float64
		if err := unmarshalField("values", w.Values, &vs); err != nil {
			return Record{}, err
		}
		if vs == nil {
			return Record{}, errors.New(`row record without "values"`)
		}
		r.Row = make(map[string]float64, len(vs))
		for k, v := range vs {
			if v == nil {
				return Record{}, fmt.Errorf("row record: column %q is null", k)
			}
			r.Row[k] = *v
		}
	case KindImage:
		if err := needName(); err != nil {
			return Record{}, err
		}
		if w.Path == "" {
			return Record{}, errors.New(`image record without a "path"`)
		}
		r.Path = w.Path
	case KindTag:
		if w.Key == "" {
			return Record{}, errors.New(`tag record without a "key"`)
		}
		var v *string
		if err := unmarshalField("value", w.Value, &v); err != nil {
			return Record{}, err
		}
		if v == nil {
			return Record{}, errors.New(`tag record without a "value"`)
		}
		r.Key, r.Val = w.Key, *v
	case "":
		return Record{}, errors.New(`no kind ("k")`)
	default:
		return Record{}, fmt.Errorf("unknown kind %q", w.K)
	}
	return r, nil
}

// unmarshalField decodes the raw JSON of the field named name into v; a
// missing field leaves v alone.
func unmarshalField(name string, raw json.RawMessage, v any) error {
	if raw == nil {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%q: %w", name, err)
	}
	return nil
}

// The encoding side: writers append records to a buffer with these.

// checkName reports whether s may name a metric, list, row, image, column or
// tag.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s", what)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	return nil
}

// checkValue reports whether v may be logged.
func checkValue(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%q: value %v is not a finite number", name, v)
	}
	return nil
}

// appendHead appends the start of a record of kind k with the given name.
func appendHead(b []byte, k, name string) []byte {
	b = append(b, `{"k":"`...)
	b = append(b, k...)
	b = append(b, `","name":`...)
	return appendString(b, name)
}

// appendTail appends the time and the end of a record.
func appendTail(b []byte, t time.Time) []byte {
	b = append(b, `,"t":`...)
	b = strconv.AppendFloat(b, float64(t.UnixMicro())/1e6, 'f', -1, 64)
	return append(b, "}\n"...)
}

// appendFloat appends a finite float as a JSON number.
func appendFloat(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendString appends s, valid UTF-8, as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// isBlank reports whether line holds only white space.
func isBlank(line []byte) bool {
	return len(bytes.TrimSpace(line)) == 0
}
