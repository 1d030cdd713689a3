package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTargetNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"ab", true},
		{"gpu-1", true},
		{"A1234567890bcdef", true}, // 16
		{"a-", true},
		{"a", false},                 // too short
		{"", false},                  // empty
		{"A1234567890bcdefg", false}, // 17
		{"1gpu", false},              // starts with a digit
		{"-gpu", false},              // starts with a hyphen
		{"gpu_1", false},             // underscore
		{"gpu 1", false},             // space
		{"gpü", false},               // not ASCII
		{"../x", false},
	}
	w := openTemp(t, options{})
	for _, tt := range tests {
		err := w.CreateTarget(t.Context(), Target{Name: tt.name, Kind: KindLocal})
		if tt.ok {
			if err != nil {
				t.Errorf("CreateTarget(%q): %v", tt.name, err)
			}
			continue
		}
		want := fmt.Sprintf("compute name %q is invalid: use 2 to 16 letters, digits or hyphens, starting with a letter", tt.name)
		if !errors.Is(err, ErrInvalidName) || !strings.HasSuffix(fmt.Sprint(err), want) {
			t.Errorf("CreateTarget(%q) = %v, want ErrInvalidName ending %q", tt.name, err, want)
		}
	}
}

func TestTargetCRUD(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	w := openTemp(t, options{now: c.now})
	gpu := Target{Name: "gpu", Kind: KindSSH, Config: json.RawMessage(` { "host": "gpu.lan",  "port": 22 } `)}
	if err := w.CreateTarget(ctx, gpu); err != nil {
		t.Fatal(err)
	}
	c.advance(1e9)
	if err := w.CreateTarget(ctx, Target{Name: "cluster", Kind: KindSlurm, ProvisioningState: ProvisioningCreating}); err != nil {
		t.Fatal(err)
	}

	got, err := w.Target(ctx, "GPU") // names are looked up regardless of case
	if err != nil {
		t.Fatal(err)
	}
	want := Target{Name: "gpu", Kind: KindSSH, Config: json.RawMessage(`{"host":"gpu.lan","port":22}`),
		ProvisioningState: ProvisioningSucceeded, Created: newClock().now(), Updated: newClock().now()}
	if !reflect.DeepEqual(normTime(got), want) {
		t.Errorf("Target = %+v\nwant %+v", got, want)
	}

	for _, dup := range []string{"gpu", "GPU"} {
		err = w.CreateTarget(ctx, Target{Name: dup, Kind: KindLocal})
		if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `"gpu"`) {
			t.Errorf("CreateTarget(%q) again = %v, want ErrExists naming gpu", dup, err)
		}
	}

	ts, err := w.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := targetNames(ts); !reflect.DeepEqual(names, []string{"cluster", "gpu"}) {
		t.Errorf("Targets = %v, want [cluster gpu]", names)
	}

	c.advance(1e9)
	upd := Target{Name: "cluster", Config: json.RawMessage(`{"partition":"gpu"}`), ProvisioningState: ProvisioningSucceeded}
	if err := w.UpdateTarget(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got, err = w.Target(ctx, "cluster")
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != KindSlurm || string(got.Config) != `{"partition":"gpu"}` ||
		got.ProvisioningState != ProvisioningSucceeded || !got.Updated.After(got.Created) {
		t.Errorf("after UpdateTarget, Target = %+v", got)
	}
	if err := w.UpdateTarget(ctx, Target{Name: "cluster", Kind: KindSSH}); err == nil || !strings.Contains(err.Error(), "cannot become") {
		t.Errorf("UpdateTarget changing the kind = %v, want an error", err)
	}
	if err := w.UpdateTarget(ctx, Target{Name: "nope", Kind: KindLocal}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateTarget(nope) = %v, want ErrNotFound", err)
	}

	if err := w.DeleteTarget(ctx, "Cluster"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Target(ctx, "cluster"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"cluster"`) {
		t.Errorf("Target after delete = %v, want ErrNotFound naming it", err)
	}
	if err := w.DeleteTarget(ctx, "cluster"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteTarget twice = %v, want ErrNotFound", err)
	}
}

func TestTargetInvalid(t *testing.T) {
	tests := []struct {
		name string
		t    Target
		want string
	}{
		{"kind", Target{Name: "box", Kind: "k8s"}, `compute kind "k8s" is invalid`},
		{"no kind", Target{Name: "box"}, `compute kind "" is invalid`},
		{"config array", Target{Name: "box", Kind: KindLocal, Config: json.RawMessage(`[1]`)}, "not a JSON object"},
		{"config broken", Target{Name: "box", Kind: KindLocal, Config: json.RawMessage(`{"a":`)}, "not a JSON object"},
		{"state", Target{Name: "box", Kind: KindLocal, ProvisioningState: "Sleeping"}, `provisioning state "Sleeping"`},
		{"secret key", Target{Name: "box", Kind: KindLocal, Secrets: map[string]Secret{"": NewSecret("x")}}, "empty key"},
		{"empty secret", Target{Name: "box", Kind: KindLocal, Secrets: map[string]Secret{"pw": {}}}, "neither a value nor a reference"},
		{"foreign ref", Target{Name: "box", Kind: KindLocal, Secrets: map[string]Secret{"pw": {ref: "file:../../x"}}}, "not one this workspace makes"},
	}
	w := openTemp(t, options{})
	for _, tt := range tests {
		err := w.CreateTarget(t.Context(), tt.t)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: CreateTarget = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	if ts, _ := w.Targets(t.Context()); len(ts) != 0 {
		t.Errorf("invalid targets were stored: %v", targetNames(ts))
	}
	if n := len(secretFiles(t, w)); n != 0 {
		t.Errorf("%d secret files left behind", n)
	}
}

func TestSecrets(t *testing.T) {
	ctx := t.Context()
	w := openTemp(t, options{})
	const value = "hunter2-very-secret"
	err := w.CreateTarget(ctx, Target{Name: "box", Kind: KindSSH,
		Secrets: map[string]Secret{"password": NewSecret(value)}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Target(ctx, "box")
	if err != nil {
		t.Fatal(err)
	}
	s := got.Secrets["password"]
	if !strings.HasPrefix(s.Ref(), "file:") {
		t.Fatalf("stored secret has reference %q", s.Ref())
	}
	if v, err := w.RevealSecret(ctx, s); err != nil || v != value {
		t.Errorf("RevealSecret = %q, %v; want %q", v, err, value)
	}
	files := secretFiles(t, w)
	if len(files) != 1 {
		t.Fatalf("secret files %v, want one", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode: %v, %v; want 0600", fi.Mode(), err)
	}
	// The value is nowhere in the database files.
	for _, name := range []string{"workspace.db", "workspace.db-wal"} {
		b, err := os.ReadFile(filepath.Join(w.Dir(), name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if strings.Contains(string(b), value) {
			t.Errorf("%s holds the secret in clear", name)
		}
	}

	// Neither a stored nor an unstored Secret shows its value.
	type holder struct {
		Pw     Secret
		hidden Secret
	}
	for _, sec := range []Secret{NewSecret(value), s} {
		h := holder{sec, sec}
		var logged strings.Builder
		slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "pw", sec, "h", h)
		outs := []string{
			fmt.Sprint(sec), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", sec, sec, sec, sec, sec, sec, sec, sec),
			fmt.Sprintf("%v %+v %#v", h, h, h), fmt.Sprintf("%v %+v", &h, &h), sec.String(), logged.String(),
		}
		for _, out := range outs {
			if strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) {
				t.Errorf("secret printed in clear: %s", out)
			}
		}
	}
	if b, err := json.Marshal(got); err != nil || strings.Contains(string(b), value) || !strings.Contains(string(b), s.Ref()) {
		t.Errorf("json.Marshal(target) = %s, %v; want the reference and not the value", b, err)
	}
	if b, err := json.Marshal(NewSecret(value)); err == nil {
		t.Errorf("json.Marshal(unstored secret) = %s, want an error", b)
	}
	var back Secret
	if err := json.Unmarshal([]byte(`{"secret_ref":"`+s.Ref()+`"}`), &back); err != nil || back.Ref() != s.Ref() {
		t.Errorf("Unmarshal reference: %v, %v", back.Ref(), err)
	}
	for _, clear := range []string{`"hunter2"`, `{"secret_ref":"x","value":"hunter2"}`, `{}`} {
		if err := json.Unmarshal([]byte(clear), &back); err == nil {
			t.Errorf("Unmarshal(%s) succeeded, want an error", clear)
		}
	}

	// A second target holding the same reference keeps the file alive when
	// the first lets go of it.
	if err := w.CreateTarget(ctx, Target{Name: "box2", Kind: KindSSH, Secrets: map[string]Secret{"pw": s}}); err != nil {
		t.Fatal(err)
	}
	if err := w.UpdateTarget(ctx, Target{Name: "box", Secrets: map[string]Secret{"password": NewSecret("new")}}); err != nil {
		t.Fatal(err)
	}
	if n := len(secretFiles(t, w)); n != 2 {
		t.Errorf("after update, %d secret files, want 2", n)
	}
	if v, err := w.RevealSecret(ctx, s); err != nil || v != value {
		t.Errorf("shared secret after update: %q, %v", v, err)
	}
	if err := w.DeleteTarget(ctx, "box2"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.RevealSecret(ctx, s); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevealSecret after its last holder was deleted: %v, want ErrNotFound", err)
	}
	if err := w.DeleteTarget(ctx, "box"); err != nil {
		t.Fatal(err)
	}
	if files := secretFiles(t, w); len(files) != 0 {
		t.Errorf("secret files %v left after deleting every target", files)
	}
}

func targetNames(ts []Target) []string {
	var names []string
	for _, t := range ts {
		names = append(names, t.Name)
	}
	return names
}

func secretFiles(t *testing.T, w *Workspace) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(w.Dir(), "secrets", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// normTime returns t with its times in UTC, for comparisons.
func normTime(t Target) Target {
	t.Created, t.Updated = t.Created.UTC(), t.Updated.UTC()
	return t
}
