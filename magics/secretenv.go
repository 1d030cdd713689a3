package magics

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"gantry/sdk/workspace"
)

// secretWords are parts of environment variable names that say the value
// is a secret wherever they appear in the name.
var secretWords = []string{"secret", "token", "passw", "passphrase", "credential", "apikey", "privatekey"}

// secretTokens are words that say the value is a secret when they are a
// whole word of the name (DB_PW, SSH_KEY, AuthCookie), but not inside
// another word (KEYBOARD, GIT_AUTHOR_NAME).
var secretTokens = map[string]bool{
	"pass": true, "pw": true, "pwd": true, "key": true, "keys": true, "auth": true, "cred": true, "creds": true,
	"private": true, "pat": true, "sig": true, "signature": true, "cookie": true, "otp": true, "pin": true,
}

// notSecret are names that match the rules above but hold no secret: the
// shell's working directories.
var notSecret = map[string]bool{"PWD": true, "OLDPWD": true}

// looksSecret reports whether an environment variable of that name likely
// holds a secret.
func looksSecret(name string) bool {
	if notSecret[name] {
		return false
	}
	lower := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	for _, w := range nameWords(name) {
		if secretTokens[strings.ToLower(w)] {
			return true
		}
	}
	return false
}

// nameWords splits a variable name into words at underscores, dashes,
// dots, digits and lower-to-upper case changes.
func nameWords(name string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r):
			flush()
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return words
}

// targetSecretVars returns the environment variables that the compute
// targets of the workspace in use name as holding a secret (an SSH
// target's password_env and passphrase_env: any configuration key that
// ends in _env). It does not create a workspace that does not exist.
func targetSecretVars(ctx context.Context) map[string]bool {
	wd, err := os.Getwd()
	if err != nil {
		return nil
	}
	dir := workspace.DefaultDir(wd)
	if _, err := os.Stat(filepath.Join(dir, "workspace.db")); err != nil {
		return nil
	}
	w, err := workspace.Open(ctx, dir)
	if err != nil {
		return nil
	}
	defer w.Close()
	ts, err := w.Targets(ctx)
	if err != nil {
		return nil
	}
	names := map[string]bool{}
	for _, t := range ts {
		collectEnvRefs(t.Config, names)
	}
	return names
}

// collectEnvRefs adds to names the string values of the keys ending in
// _env anywhere in the JSON document raw.
func collectEnvRefs(raw json.RawMessage, names map[string]bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && strings.HasSuffix(strings.ToLower(k), "_env") && s != "" {
					names[s] = true
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
}
