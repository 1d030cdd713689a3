package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// redacted is what a Secret prints instead of its value.
const redacted = "[secret]"

// refPrefix starts the reference of a secret kept in a file under the
// workspace's secrets directory; the rest is a UUID naming the file. Other
// stores, such as an OS keyring, would use another prefix.
const refPrefix = "file:"

// A Secret is a password, token or key passphrase. It holds either a value
// not yet stored, made by [NewSecret], or a reference to a stored value, as
// read back from the workspace; [Workspace.RevealSecret] returns the value.
//
// A Secret never shows its value: it prints as "[secret]" with every fmt
// verb and in slog, and it marshals to JSON only as its reference, failing
// if it has none. It unmarshals only from a reference, so a configuration
// that carries a secret in clear fails to decode into one.
type Secret struct {
	// value is a pointer so that fmt, printing a struct that holds a Secret
	// in an unexported field (where it cannot call Format), shows an
	// address rather than the value.
	value *string
	ref   string
}

// NewSecret returns a Secret holding value. The workspace stores it when it
// stores the Target that holds it.
func NewSecret(value string) Secret { return Secret{value: &value} }

// Ref returns the reference under which the secret is stored, or "" if it
// has not been stored.
func (s Secret) Ref() string { return s.ref }

// IsZero reports whether s holds neither a value nor a reference.
func (s Secret) IsZero() bool { return s.value == nil && s.ref == "" }

// String returns "[secret]".
func (s Secret) String() string { return redacted }

// GoString returns "[secret]", so that %#v hides the value too.
func (s Secret) GoString() string { return redacted }

// Format writes "[secret]" whatever the verb.
func (s Secret) Format(f fmt.State, verb rune) { io.WriteString(f, redacted) }

// LogValue returns "[secret]" for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// secretJSON is the JSON form of a Secret.
type secretJSON struct {
	Ref string `json:"secret_ref"`
}

// MarshalJSON returns {"secret_ref": ref}. It fails if the secret has not
// been stored, rather than write its value.
func (s Secret) MarshalJSON() ([]byte, error) {
	if s.ref == "" {
		return nil, errors.New("secret has no reference: store it in a workspace first (a Target's Secrets are stored by CreateTarget and UpdateTarget)")
	}
	return json.Marshal(secretJSON{Ref: s.ref})
}

// UnmarshalJSON accepts only the form MarshalJSON writes.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var j secretJSON
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&j); err != nil || j.Ref == "" {
		return errors.New(`a secret must be a reference {"secret_ref": "..."}, never a value`)
	}
	*s = Secret{ref: j.Ref}
	return nil
}

// RevealSecret returns the value of s: the value it holds, or else the
// value stored under its reference.
func (w *Workspace) RevealSecret(ctx context.Context, s Secret) (string, error) {
	if s.value != nil {
		return *s.value, nil
	}
	path, err := w.secretPath(s.ref)
	if err != nil {
		return "", fmt.Errorf("reveal secret: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("reveal secret: %w", err)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reveal secret %s: %w", s.ref, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("reveal secret %s: %w", s.ref, err)
	}
	return string(b), nil
}

// secretPath returns the file that holds the secret stored under ref.
func (w *Workspace) secretPath(ref string) (string, error) {
	id, ok := strings.CutPrefix(ref, refPrefix)
	if ok {
		if u, err := uuid.Parse(id); err == nil && u.String() == id {
			return filepath.Join(w.secretsDir(), id), nil
		}
	}
	if ref == "" {
		return "", errors.New("secret has neither a value nor a reference")
	}
	return "", fmt.Errorf("secret reference %q is not one this workspace makes", ref)
}

// storeSecrets stores each secret in m that has no reference yet, in a new
// file of mode 0600, and returns the references by key, and the files it
// created, for the caller to remove should its transaction fail.
func (w *Workspace) storeSecrets(m map[string]Secret) (refs map[string]string, created []string, err error) {
	refs = make(map[string]string, len(m))
	for k, s := range m {
		if k == "" {
			err = errors.New("secret with an empty key")
			break
		}
		if s.ref != "" {
			if _, err = w.secretPath(s.ref); err != nil {
				break
			}
			refs[k] = s.ref
			continue
		}
		if s.value == nil {
			err = fmt.Errorf("secret %q has neither a value nor a reference", k)
			break
		}
		ref := refPrefix + uuid.NewString()
		path, _ := w.secretPath(ref)
		if err = writeSecretFile(path, *s.value); err != nil {
			err = fmt.Errorf("store secret %q: %w", k, err)
			break
		}
		created = append(created, path)
		refs[k] = ref
	}
	if err != nil {
		removeFiles(created)
		return nil, nil, err
	}
	return refs, created, nil
}

func writeSecretFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, value); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// removeFiles removes files, ignoring errors: it cleans up after failures,
// or removes secrets no longer referenced.
func removeFiles(paths []string) {
	for _, p := range paths {
		os.Remove(p)
	}
}
