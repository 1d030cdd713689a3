package workspace

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A Kind is the kind of a compute target, which selects its driver.
type Kind string

// The kinds of compute target.
const (
	KindLocal Kind = "local" // this machine
	KindSSH   Kind = "ssh"   // a machine reached over SSH
	KindSlurm Kind = "slurm" // a Slurm cluster
	KindSpark Kind = "spark" // a Spark standalone cluster, by its master's URL
)

// A ProvisioningState says whether a compute target is ready for use.
type ProvisioningState string

// The provisioning states of a compute target.
const (
	ProvisioningCreating  ProvisioningState = "Creating"
	ProvisioningSucceeded ProvisioningState = "Succeeded"
	ProvisioningUpdating  ProvisioningState = "Updating"
	ProvisioningDeleting  ProvisioningState = "Deleting"
	ProvisioningFailed    ProvisioningState = "Failed"
)

// A Target is a compute target: somewhere runs execute.
type Target struct {
	// Name identifies the target in the workspace: 2 to 16 letters, digits
	// or hyphens, starting with a letter. Names are unique regardless of
	// case, and looked up regardless of case.
	Name string
	Kind Kind
	// Config is the driver's settings, a JSON object; nil means {}. It must
	// not hold secrets in clear: put them in Secrets.
	Config json.RawMessage
	// Secrets holds passwords, tokens and passphrases by key. Values made
	// with NewSecret are stored in files of their own when the target is
	// stored, and read back as references; see Workspace.RevealSecret.
	Secrets map[string]Secret
	// ProvisioningState is stored as ProvisioningSucceeded when empty.
	ProvisioningState ProvisioningState

	Created time.Time // set by CreateTarget
	Updated time.Time // set by CreateTarget and UpdateTarget
}

// A nameError reports a name that breaks its rule.
type nameError struct {
	what, name, rule string
}

func (e *nameError) Error() string {
	return fmt.Sprintf("%s name %q is invalid: %s", e.what, e.name, e.rule)
}

func (e *nameError) Is(target error) bool { return target == ErrInvalidName }

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// checkTargetName returns an error matching ErrInvalidName unless name is
// 2 to 16 ASCII letters, digits or hyphens, starting with a letter.
func checkTargetName(name string) error {
	ok := len(name) >= 2 && len(name) <= 16 && isLetter(name[0])
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = isLetter(c) || isDigit(c) || c == '-'
	}
	if !ok {
		return &nameError{"compute", name, "use 2 to 16 letters, digits or hyphens, starting with a letter"}
	}
	return nil
}

// checkTarget validates t and returns its config in compact form.
func checkTarget(t *Target) ([]byte, error) {
	if err := checkTargetName(t.Name); err != nil {
		return nil, err
	}
	switch t.Kind {
	case KindLocal, KindSSH, KindSlurm, KindSpark:
	default:
		return nil, fmt.Errorf("compute kind %q is invalid: use %q, %q, %q or %q", t.Kind, KindLocal, KindSSH, KindSlurm, KindSpark)
	}
	switch t.ProvisioningState {
	case "":
		t.ProvisioningState = ProvisioningSucceeded
	case ProvisioningCreating, ProvisioningSucceeded, ProvisioningUpdating, ProvisioningDeleting, ProvisioningFailed:
	default:
		return nil, fmt.Errorf("provisioning state %q is invalid", t.ProvisioningState)
	}
	cfg := bytes.TrimSpace(t.Config)
	if len(cfg) == 0 {
		return []byte("{}"), nil
	}
	var buf bytes.Buffer
	if cfg[0] != '{' || json.Compact(&buf, cfg) != nil {
		return nil, errors.New("compute config is not a JSON object")
	}
	return buf.Bytes(), nil
}

// CreateTarget adds the compute target t to the workspace, storing its
// secrets. It fails with an error matching ErrExists if a target of that
// name exists, or ErrInvalidName if the name breaks the rule.
func (w *Workspace) CreateTarget(ctx context.Context, t Target) error {
	if err := w.createTarget(ctx, t); err != nil {
		return w.errorf(err, "create compute %q", t.Name)
	}
	return nil
}

func (w *Workspace) createTarget(ctx context.Context, t Target) error {
	cfg, err := checkTarget(&t)
	if err != nil {
		return err
	}
	refs, created, err := w.storeSecrets(t.Secrets)
	if err != nil {
		return err
	}
	refsJSON, _ := json.Marshal(refs)
	err = w.write(ctx, func(tx *sql.Tx) error {
		var existing string
		err := tx.QueryRowContext(ctx, `SELECT name FROM compute_targets WHERE name = ?`, t.Name).Scan(&existing)
		if err == nil {
			return fmt.Errorf("compute %q %w", existing, ErrExists)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		now := toNanos(w.now())
		_, err = tx.ExecContext(ctx, `INSERT INTO compute_targets
			(name, kind, config, secrets, provisioning_state, created, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.Name, string(t.Kind), string(cfg), string(refsJSON), string(t.ProvisioningState), now, now)
		return err
	})
	if err != nil {
		removeFiles(created)
	}
	return err
}

// Target returns the compute target called name.
func (w *Workspace) Target(ctx context.Context, name string) (Target, error) {
	ts, err := w.targets(ctx, `WHERE name = ?`, name)
	if err == nil && len(ts) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return Target{}, w.errorf(err, "compute %q", name)
	}
	return ts[0], nil
}

// Targets returns every compute target, ordered by name.
func (w *Workspace) Targets(ctx context.Context) ([]Target, error) {
	ts, err := w.targets(ctx, ``)
	if err != nil {
		return nil, w.errorf(err, "list computes")
	}
	return ts, nil
}

func (w *Workspace) targets(ctx context.Context, where string, args ...any) ([]Target, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT name, kind, config, secrets, provisioning_state, created, updated
		FROM compute_targets `+where+` ORDER BY name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []Target
	for rows.Next() {
		var (
			t                Target
			cfg, refsJSON    string
			created, updated int64
		)
		if err := rows.Scan(&t.Name, &t.Kind, &cfg, &refsJSON, &t.ProvisioningState, &created, &updated); err != nil {
			return nil, err
		}
		t.Config = json.RawMessage(cfg)
		var refs map[string]string
		if err := json.Unmarshal([]byte(refsJSON), &refs); err != nil {
			return nil, fmt.Errorf("compute %q: secret references: %w", t.Name, err)
		}
		if len(refs) > 0 {
			t.Secrets = make(map[string]Secret, len(refs))
			for k, r := range refs {
				t.Secrets[k] = Secret{ref: r}
			}
		}
		t.Created, t.Updated = fromNanos(created), fromNanos(updated)
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// UpdateTarget replaces the Config, Secrets and ProvisioningState of the
// compute target called t.Name with those of t. Its Kind cannot change; an
// empty t.Kind keeps it. Stored secrets that the target no longer holds are
// removed, unless another target holds them too.
func (w *Workspace) UpdateTarget(ctx context.Context, t Target) error {
	if err := w.updateTarget(ctx, t); err != nil {
		return w.errorf(err, "update compute %q", t.Name)
	}
	return nil
}

func (w *Workspace) updateTarget(ctx context.Context, t Target) error {
	keepKind := t.Kind == ""
	if keepKind {
		t.Kind = KindLocal // checked against the stored kind below
	}
	cfg, err := checkTarget(&t)
	if err != nil {
		return err
	}
	refs, created, err := w.storeSecrets(t.Secrets)
	if err != nil {
		return err
	}
	refsJSON, _ := json.Marshal(refs)
	var unused []string
	err = w.write(ctx, func(tx *sql.Tx) error {
		var name string
		var kind Kind
		var oldJSON string
		err := tx.QueryRowContext(ctx, `SELECT name, kind, secrets FROM compute_targets WHERE name = ?`,
			t.Name).Scan(&name, &kind, &oldJSON)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if !keepKind && t.Kind != kind {
			return fmt.Errorf("compute %q is of kind %q and cannot become %q: delete it and create it again", name, kind, t.Kind)
		}
		if unused, err = w.unusedSecrets(ctx, tx, name, oldJSON, refs); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE compute_targets
			SET config = ?, secrets = ?, provisioning_state = ?, updated = ? WHERE name = ?`,
			string(cfg), string(refsJSON), string(t.ProvisioningState), toNanos(w.now()), name)
		return err
	})
	if err != nil {
		removeFiles(created)
		return err
	}
	removeFiles(unused)
	return nil
}

// DeleteTarget removes the compute target called name, and its stored
// secrets unless another target holds them too. Runs that used the target
// keep its name.
func (w *Workspace) DeleteTarget(ctx context.Context, name string) error {
	var unused []string
	err := w.write(ctx, func(tx *sql.Tx) error {
		var oldJSON string
		err := tx.QueryRowContext(ctx, `SELECT name, secrets FROM compute_targets WHERE name = ?`,
			name).Scan(&name, &oldJSON)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if unused, err = w.unusedSecrets(ctx, tx, name, oldJSON, nil); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM compute_targets WHERE name = ?`, name)
		return err
	})
	if err != nil {
		return w.errorf(err, "delete compute %q", name)
	}
	removeFiles(unused)
	return nil
}

// unusedSecrets returns the files of the secrets in oldJSON, the references
// the target called name holds now, that neither keep (its new references)
// nor any other target holds.
func (w *Workspace) unusedSecrets(ctx context.Context, tx *sql.Tx, name, oldJSON string, keep map[string]string) ([]string, error) {
	var old map[string]string
	if err := json.Unmarshal([]byte(oldJSON), &old); err != nil {
		return nil, fmt.Errorf("secret references: %w", err)
	}
	used := make(map[string]bool)
	for _, r := range keep {
		used[r] = true
	}
	rows, err := tx.QueryContext(ctx, `SELECT secrets FROM compute_targets WHERE name != ?`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var js string
		var refs map[string]string
		if err := rows.Scan(&js); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(js), &refs); err != nil {
			return nil, fmt.Errorf("secret references: %w", err)
		}
		for _, r := range refs {
			used[r] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var paths []string
	for _, r := range old {
		if used[r] {
			continue
		}
		// A reference that does not name a file of ours has nothing to remove.
		if p, err := w.secretPath(r); err == nil {
			paths = append(paths, p)
		}
	}
	return paths, nil
}
