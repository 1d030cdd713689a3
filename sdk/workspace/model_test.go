package workspace

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestModels(t *testing.T) {
	ctx := t.Context()
	w := openTemp(t, options{})
	run := mustRun(t, w, RunSpec{Experiment: "e"}).ID
	reg := func(m Model) Model {
		t.Helper()
		got, err := w.RegisterModel(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	m1 := reg(Model{Name: "mnist", RunID: run, Path: "outputs/model.bin", Tags: map[string]string{"acc": "0.97"}})
	m2 := reg(Model{Name: "mnist", Path: "outputs/model2.bin"})
	o1 := reg(Model{Name: "other", Path: "x"})
	if m1.Version != 1 || m2.Version != 2 || o1.Version != 1 {
		t.Fatalf("versions %d, %d, %d; want 1, 2, 1", m1.Version, m2.Version, o1.Version)
	}
	if m1.Created.IsZero() {
		t.Error("Created not set")
	}

	tests := []struct {
		name    string
		version int
		want    Model
	}{
		{"mnist", 0, m2},
		{"mnist", 1, m1},
		{"mnist", 2, m2},
		{"other", 0, o1},
	}
	for _, tt := range tests {
		got, err := w.Model(ctx, tt.name, tt.version)
		if err != nil {
			t.Errorf("Model(%q, %d): %v", tt.name, tt.version, err)
			continue
		}
		if !equalModels(got, tt.want) {
			t.Errorf("Model(%q, %d) = %+v, want %+v", tt.name, tt.version, got, tt.want)
		}
	}
	for _, miss := range []struct {
		name    string
		version int
	}{{"mnist", 3}, {"nope", 0}, {"nope", 1}} {
		if _, err := w.Model(ctx, miss.name, miss.version); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), miss.name) {
			t.Errorf("Model(%q, %d) = %v, want ErrNotFound naming it", miss.name, miss.version, err)
		}
	}

	ms, err := w.Models(ctx, "mnist")
	if err != nil || len(ms) != 2 || !equalModels(ms[0], m1) || !equalModels(ms[1], m2) {
		t.Errorf("Models(mnist) = %+v, %v", ms, err)
	}
	all, err := w.Models(ctx, "")
	if err != nil || len(all) != 3 || all[2].Name != "other" {
		t.Errorf("Models(\"\") = %+v, %v", all, err)
	}

	bad := []struct {
		m    Model
		is   error
		want string
	}{
		{Model{Name: "has space", Path: "p"}, ErrInvalidName, `model name "has space" is invalid`},
		{Model{Name: "m"}, nil, "empty path"},
		{Model{Name: "m", Path: "p", RunID: "x"}, ErrInvalidID, "not a UUID"},
	}
	for _, b := range bad {
		_, err := w.RegisterModel(ctx, b.m)
		if err == nil || b.is != nil && !errors.Is(err, b.is) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("RegisterModel(%+v) = %v, want %v containing %q", b.m, err, b.is, b.want)
		}
	}
}

func equalModels(a, b Model) bool {
	if !a.Created.Equal(b.Created) {
		return false
	}
	a.Created = b.Created
	return reflect.DeepEqual(a, b)
}
