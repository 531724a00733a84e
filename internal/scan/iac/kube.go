package iac

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// podSpecPaths says where the pod spec is in each workload kind.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"PodTemplate":           {"template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// dangerousCaps are the capabilities that come close to privileged.
var dangerousCaps = map[string]bool{
	"ALL": true, "SYS_ADMIN": true, "NET_ADMIN": true, "SYS_PTRACE": true, "SYS_MODULE": true,
}

// checkManifests checks the Kubernetes workloads in a YAML file, which may
// hold several documents and List objects; other YAML is ignored. It
// returns the findings and how many workloads were checked. A document
// that does not parse is a gap when the file looks like a manifest; the
// documents before it are still checked.
func checkManifests(rel string, data []byte) ([]gantry.Finding, int, *scan.Gap) {
	k := &kubeChecker{rel: rel}
	var gap *scan.Gap
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if bytes.Contains(data, []byte("kind:")) {
				reason := "parse YAML: " + err.Error()
				if bytes.Contains(data, []byte("{{")) {
					reason += " (a template? render it, with helm template for example, and scan the output)"
				}
				gap = &scan.Gap{What: "file: " + rel, Reason: reason}
			}
			break
		}
		root := deref(&doc)
		if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			k.object(deref(root.Content[0]), 0)
		}
	}
	sortFindings(k.out)
	return k.out, k.workloads, gap
}

type kubeChecker struct {
	rel       string
	out       []gantry.Finding
	workloads int
}

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// lookup returns the key and value nodes of a mapping's field, following
// aliases and merge keys (<<), or nils.
func lookup(m *yaml.Node, field string) (key, val *yaml.Node) {
	return lookupMerged(m, field, nil)
}

// lookupMerged is lookup with the set of mappings already searched, so
// that aliases which make a mapping merge itself, or merge one mapping
// many times, cost one visit each.
func lookupMerged(m *yaml.Node, field string, seen map[*yaml.Node]bool) (key, val *yaml.Node) {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode || seen[m] {
		return nil, nil
	}
	hasMerge := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Tag == "!!merge" {
			hasMerge = true
		} else if m.Content[i].Value == field {
			return m.Content[i], deref(m.Content[i+1])
		}
	}
	if !hasMerge {
		return nil, nil
	}
	if seen == nil {
		seen = map[*yaml.Node]bool{}
	}
	seen[m] = true
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Tag != "!!merge" {
			continue
		}
		v := deref(m.Content[i+1])
		srcs := []*yaml.Node{v}
		if v != nil && v.Kind == yaml.SequenceNode {
			srcs = v.Content
		}
		for _, s := range srcs {
			if k, val := lookupMerged(s, field, seen); k != nil {
				return k, val
			}
		}
	}
	return nil, nil
}

func get(m *yaml.Node, path ...string) *yaml.Node {
	for _, p := range path {
		_, m = lookup(m, p)
	}
	return m
}

func scalar(n *yaml.Node) string {
	if n = deref(n); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// boolValue reads a YAML boolean; ok is false if n is not one.
func boolValue(n *yaml.Node) (v, ok bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, false
	}
	b, err := strconv.ParseBool(strings.ToLower(n.Value))
	return b, err == nil
}

func isTrue(n *yaml.Node) bool {
	v, ok := boolValue(n)
	return ok && v
}

func intValue(n *yaml.Node) (int64, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	return v, err == nil
}

func (k *kubeChecker) object(obj *yaml.Node, depth int) {
	if obj == nil || obj.Kind != yaml.MappingNode || depth > 4 {
		return
	}
	kind := scalar(get(obj, "kind"))
	if scalar(get(obj, "apiVersion")) == "" || kind == "" {
		return
	}
	if kind == "List" || strings.HasSuffix(kind, "List") {
		if items := get(obj, "items"); items != nil && items.Kind == yaml.SequenceNode {
			for _, it := range items.Content {
				k.object(deref(it), depth+1)
			}
		}
		return
	}
	p, ok := podSpecPaths[kind]
	if !ok {
		return
	}
	spec := get(obj, p...)
	if spec == nil || spec.Kind != yaml.MappingNode {
		return
	}
	k.workloads++
	id := kind + "/" + scalar(get(obj, "metadata", "name"))
	if ns := scalar(get(obj, "metadata", "namespace")); ns != "" {
		id = kind + "/" + ns + "/" + scalar(get(obj, "metadata", "name"))
	}
	k.podSpec(id, spec)
}

func (k *kubeChecker) add(rule string, at *yaml.Node, msg, key string) {
	k.out = append(k.out, newFinding(rule, k.rel, at.Line, at.Column, msg, key, "high"))
}

func (k *kubeChecker) podSpec(id string, spec *yaml.Node) {
	for _, f := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if key, v := lookup(spec, f); isTrue(v) {
			k.add(ruleK8sHostNS, key, fmt.Sprintf("%s sets %s: true", id, f), id+" "+f)
		}
	}
	if vols := get(spec, "volumes"); vols != nil && vols.Kind == yaml.SequenceNode {
		for _, v := range vols.Content {
			if key, hp := lookup(v, "hostPath"); key != nil {
				name := scalar(get(v, "name"))
				k.add(ruleK8sHostPath, key, fmt.Sprintf("%s mounts host path %s as volume %q", id, scalar(get(hp, "path")), name),
					id+" volume "+name+" hostPath")
			}
		}
	}
	_, podSC := lookup(spec, "securityContext")
	for _, list := range []struct{ field, what string }{
		{"initContainers", "init container"},
		{"containers", "container"},
		{"ephemeralContainers", "ephemeral container"},
	} {
		cs := get(spec, list.field)
		if cs == nil || cs.Kind != yaml.SequenceNode {
			continue
		}
		for _, c := range cs.Content {
			if c = deref(c); c.Kind == yaml.MappingNode {
				k.container(id, fmt.Sprintf("%s %q", list.what, scalar(get(c, "name"))), list.field == "ephemeralContainers", c, podSC)
			}
		}
	}
}

func (k *kubeChecker) container(id, cref string, ephemeral bool, c, podSC *yaml.Node) {
	who := id + " " + cref
	_, sc := lookup(c, "securityContext")

	if key, v := lookup(sc, "privileged"); isTrue(v) {
		k.add(ruleK8sPrivileged, key, who+" runs privileged", who+" privileged")
	}

	// runAsNonRoot and runAsUser: the container's setting overrides the pod's.
	nonRootKey, nonRoot := lookup(sc, "runAsNonRoot")
	if nonRootKey == nil {
		nonRootKey, nonRoot = lookup(podSC, "runAsNonRoot")
	}
	userKey, user := lookup(sc, "runAsUser")
	if userKey == nil {
		userKey, user = lookup(podSC, "runAsUser")
	}
	uid, uidSet := intValue(user)
	nr, nrSet := boolValue(nonRoot)
	switch {
	case uidSet && uid == 0:
		k.add(ruleK8sRunAsRoot, userKey, who+" sets runAsUser: 0", who+" runAsUser 0")
	case nrSet && nr, uidSet && uid > 0:
	case nrSet:
		k.add(ruleK8sRunAsRoot, nonRootKey, who+" sets runAsNonRoot: false", who+" runAsNonRoot")
	default:
		k.add(ruleK8sRunAsRoot, c, who+" does not set runAsNonRoot: true, so it may run as root", who+" runAsNonRoot")
	}

	if key, v := lookup(sc, "allowPrivilegeEscalation"); key == nil {
		k.add(ruleK8sEscalation, c, who+" does not set allowPrivilegeEscalation: false", who+" allowPrivilegeEscalation")
	} else if b, ok := boolValue(v); !ok || b {
		k.add(ruleK8sEscalation, key, who+" allows privilege escalation", who+" allowPrivilegeEscalation")
	}

	if !ephemeral {
		resKey, res := lookup(c, "resources")
		limits := get(res, "limits")
		var missing []string
		for _, r := range []string{"cpu", "memory"} {
			if get(limits, r) == nil {
				missing = append(missing, r)
			}
		}
		if len(missing) > 0 {
			at := c
			if resKey != nil {
				at = resKey
			}
			k.add(ruleK8sLimits, at, fmt.Sprintf("%s has no %s limit", who, strings.Join(missing, " or ")), who+" limits")
		}
	}

	if add := get(sc, "capabilities", "add"); add != nil && add.Kind == yaml.SequenceNode {
		for _, item := range add.Content {
			name := strings.TrimPrefix(strings.ToUpper(scalar(item)), "CAP_")
			if dangerousCaps[name] {
				k.add(ruleK8sCaps, item, fmt.Sprintf("%s adds capability %s", who, name), who+" capability "+name)
			}
		}
	}

	if key, img := lookup(c, "image"); key != nil {
		ref := scalar(img)
		if !strings.ContainsAny(ref, "${}") {
			switch imageTagProblem(ref) {
			case "latest":
				k.add(ruleK8sImageTag, key, fmt.Sprintf("%s uses image %s with the latest tag", who, ref), who+" image "+ref)
			case "untagged":
				k.add(ruleK8sImageTag, key, fmt.Sprintf("%s uses image %s without a tag", who, ref), who+" image "+ref)
			}
		}
	}

	if key, v := lookup(sc, "readOnlyRootFilesystem"); !isTrue(v) {
		at := c
		if key != nil {
			at = key
		}
		k.add(ruleK8sWritableFS, at, who+" does not set readOnlyRootFilesystem: true", who+" readOnlyRootFilesystem")
	}
}
