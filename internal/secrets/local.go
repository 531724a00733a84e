package secrets

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gantry.dev/gantry"
)

// EnvPrefix marks environment variables that carry secrets in local mode:
// GANTRY_SECRET_DB_PASSWORD is the secret DB_PASSWORD.
const EnvPrefix = "GANTRY_SECRET_"

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// FromEnviron returns the secrets carried by an environment list such as
// os.Environ().
func FromEnviron(environ []string) map[string]string {
	out := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if name, ok := strings.CutPrefix(k, EnvPrefix); ok && nameRE.MatchString(name) {
			out[name] = v
		}
	}
	return out
}

// maxFileSize bounds a secrets file: it holds a few values, not data.
const maxFileSize = 1 << 20

// LoadFile reads a secrets file: one NAME=value a line, blank lines and
// lines starting with # ignored, a value optionally in double quotes (with
// Go escapes) or single quotes (taken as is).
func LoadFile(path string) (map[string]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "read secrets file: %w", err)
	}
	if st.Size() > maxFileSize {
		return nil, gantry.Errorf(gantry.EInvalid, "secrets file %s is larger than 1 MiB", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "read secrets file: %w", err)
	}
	return Parse(path, data)
}

// Parse parses the contents of a secrets file named file. Errors name the
// line but never echo a value.
func Parse(file string, data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), maxFileSize)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, gantry.Errorf(gantry.EInvalid, "%s:%d: expected NAME=value", file, n)
		}
		if !nameRE.MatchString(name) {
			return nil, gantry.Errorf(gantry.EInvalid, "%s:%d: secret name %q must match [A-Za-z_][A-Za-z0-9_]*", file, n, name)
		}
		value = strings.TrimSpace(value)
		switch {
		case len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"':
			v, err := strconv.Unquote(value)
			if err != nil {
				return nil, gantry.Errorf(gantry.EInvalid, "%s:%d: the double-quoted value of %s is not a valid quoted string", file, n, name)
			}
			value = v
		case len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'':
			value = value[1 : len(value)-1]
		}
		if _, dup := out[name]; dup {
			return nil, gantry.Errorf(gantry.EInvalid, "%s:%d: secret %s is defined twice", file, n, name)
		}
		out[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "read secrets file %s: %v", file, err)
	}
	return out, nil
}

// Missing returns the names in want that have no value in have, for an
// error that lists them all at once.
func Missing(have map[string]string, want []string) []string {
	var out []string
	for _, n := range want {
		if _, ok := have[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}

// Describe says where local secrets come from, for error messages.
func Describe(name string) string {
	return fmt.Sprintf("set %s%s in the environment or give it in a --secrets-file", EnvPrefix, name)
}
