package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gantry.dev/gantry"
)

// vaultAllEnvs is the path segment of project-wide secrets (env ""). No
// environment name can be it: those start with a letter or digit.
const vaultAllEnvs = "_all"

// NewVaultService returns a Service that keeps values in Vault rather than
// in a store: each secret at <prefix>/<project>/<env or _all>/<name> of
// v's KV v2 mount, as the field "value", with the writer in the custom
// metadata field "updated_by". prefix is "gantry" when empty. The token
// needs create, read, update and delete on <mount>/data/<prefix>/* and
// list, read, create, update and delete on <mount>/metadata/<prefix>/*.
// Vault encrypts what it keeps, so such a Service has no keyring and
// nothing to rotate.
func NewVaultService(v *Vault, prefix string) (*Service, error) {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		prefix = "gantry"
	}
	if err := checkVaultPath(prefix); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "vault prefix: %v", err)
	}
	return &Service{vault: &vaultBackend{v: v, prefix: prefix}}, nil
}

type vaultBackend struct {
	v      *Vault
	prefix string
}

func (b *vaultBackend) path(project, env, name string) string {
	if env == "" {
		env = vaultAllEnvs
	}
	return b.prefix + "/" + project + "/" + env + "/" + name
}

func (b *vaultBackend) put(ctx context.Context, project, env, name, value, actor string) error {
	p := b.path(project, env, name)
	if err := b.v.Write(ctx, p, map[string]any{"value": value}); err != nil {
		return fmt.Errorf("put secret %s: %w", place(project, env, name), err)
	}
	if err := b.v.WriteCustomMetadata(ctx, p, map[string]string{"updated_by": actor}); err != nil {
		return fmt.Errorf("put secret %s: the value is written, but not who wrote it: %w", place(project, env, name), err)
	}
	return nil
}

func (b *vaultBackend) get(ctx context.Context, project, env, name string) (string, error) {
	data, err := b.v.Read(ctx, b.path(project, env, name))
	if err != nil {
		return "", err
	}
	v, ok := data["value"].(string)
	if !ok {
		return "", gantry.Errorf(gantry.EInvalid, "secret %s in Vault has no string field \"value\"", place(project, env, name))
	}
	return v, nil
}

func (b *vaultBackend) list(ctx context.Context, project string) ([]Info, error) {
	envs, err := b.v.List(ctx, b.prefix+"/"+project)
	if err != nil {
		return nil, fmt.Errorf("list secrets of %s: %w", project, err)
	}
	out := []Info{}
	for _, e := range envs {
		dir, ok := strings.CutSuffix(e, "/")
		if !ok {
			continue // a secret directly under the project: not one of ours
		}
		env := dir
		if dir == vaultAllEnvs {
			env = ""
		} else if !validEnv(dir) {
			continue
		}
		names, err := b.v.List(ctx, b.prefix+"/"+project+"/"+dir)
		if err != nil {
			return nil, fmt.Errorf("list secrets of %s: %w", project, err)
		}
		for _, n := range names {
			if checkName(n) != nil {
				continue // a folder, or a name no step could receive
			}
			info := Info{Project: project, Env: env, Name: n}
			md, err := b.v.Metadata(ctx, b.path(project, env, n))
			switch {
			case errors.Is(err, gantry.ErrNotFound):
				continue // deleted since the listing
			case err != nil:
				return nil, fmt.Errorf("list secrets of %s: %w", project, err)
			}
			info.UpdatedAt = md.UpdatedTime.UTC()
			info.UpdatedBy = md.CustomMetadata["updated_by"]
			out = append(out, info)
		}
	}
	sortInfos(out)
	return out, nil
}

func (b *vaultBackend) delete(ctx context.Context, project, env, name string) error {
	p := b.path(project, env, name)
	// Vault deletes what is not there without a word; say it.
	if _, err := b.v.Metadata(ctx, p); err != nil {
		if errors.Is(err, gantry.ErrNotFound) {
			return gantry.Errorf(gantry.ENotFound, "delete secret: %s is not set", place(project, env, name))
		}
		return fmt.Errorf("delete secret %s: %w", place(project, env, name), err)
	}
	if err := b.v.Delete(ctx, p); err != nil {
		return fmt.Errorf("delete secret %s: %w", place(project, env, name), err)
	}
	return nil
}
