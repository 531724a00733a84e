package iac

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// checkDockerfile parses and checks the Dockerfile at rel. A file that does
// not parse is a gap.
func checkDockerfile(rel string, data []byte) ([]gantry.Finding, *scan.Gap) {
	df, err := parseDockerfile(data)
	if err != nil {
		return nil, &scan.Gap{What: "file: " + rel, Reason: "parse Dockerfile: " + err.Error()}
	}
	c := &dfChecker{rel: rel, df: df, seen: map[string]bool{}}
	c.checkImages()
	c.checkUser()
	for _, st := range df.stages {
		posix := true
		for _, in := range st.insts {
			if in.cmd == "SHELL" {
				posix = in.isExec && len(in.exec) > 0 && isShellName(path.Base(in.exec[0]))
			}
			c.checkInstruction(in, posix)
			if in.inner != nil {
				inner := *in.inner
				inner.line, inner.text = in.line, in.text
				c.checkInstruction(inner, posix)
			}
		}
	}
	sortFindings(c.out)
	return c.out, nil
}

type dfChecker struct {
	rel  string
	df   *dockerfile
	out  []gantry.Finding
	seen map[string]bool // rule and key of the findings so far
}

func (c *dfChecker) add(rule string, in dfInstruction, msg, key, confidence string) {
	k := rule + "\x00" + key
	if c.seen[k] {
		return
	}
	c.seen[k] = true
	c.out = append(c.out, newFinding(rule, c.rel, in.line, 0, msg, key, confidence))
}

// expandArgs substitutes the defaults of the ARGs before the first FROM
// (and ${NAME:-default} defaults) into a FROM image. References it cannot
// resolve are left as written.
func (c *dfChecker) expandArgs(s string) string {
	return argRefRE.ReplaceAllStringFunc(s, func(ref string) string {
		m := argRefRE.FindStringSubmatch(ref)
		if v := c.df.args[m[1]+m[3]]; v != "" {
			return v
		}
		if d, ok := strings.CutPrefix(m[2], ":-"); ok {
			return d
		}
		return ref
	})
}

// argRefRE matches $NAME and ${NAME}, ${NAME:-default}: the braced name is
// submatch 1, its modifier 2, the bare name 3.
var argRefRE = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(:[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// stageIndex returns the index of the stage named name before stage i, or
// -1.
func (c *dfChecker) stageIndex(name string, before int) int {
	name = strings.ToLower(name)
	for j := 0; j < before && j < len(c.df.stages); j++ {
		if c.df.stages[j].name != "" && c.df.stages[j].name == name {
			return j
		}
	}
	return -1
}

func (c *dfChecker) checkImages() {
	for i, st := range c.df.stages {
		img := c.expandArgs(st.image)
		if strings.Contains(img, "$") || strings.EqualFold(img, "scratch") || c.stageIndex(img, i) >= 0 {
			continue
		}
		switch imageTagProblem(img) {
		case "latest":
			c.add(ruleDFUnpinned, st.from, fmt.Sprintf("base image %s uses the latest tag", img), st.from.text, "high")
		case "untagged":
			c.add(ruleDFUnpinned, st.from, fmt.Sprintf("base image %s has no tag, so it means latest", img), st.from.text, "high")
		}
	}
}

// checkUser reports a final stage that runs as root.
func (c *dfChecker) checkUser() {
	last := len(c.df.stages) - 1
	final := c.df.stages[last]
	for i := last; i >= 0; {
		st := c.df.stages[i]
		for j := len(st.insts) - 1; j >= 0; j-- {
			in := st.insts[j]
			if in.cmd != "USER" {
				continue
			}
			if isRootUser(in.args) {
				c.add(ruleDFRoot, in, "the final stage switches to USER "+in.args+", so the container runs as root", in.text, "high")
			}
			return
		}
		img := c.expandArgs(st.image)
		next := c.stageIndex(img, i)
		if next < 0 {
			if nonRootImage(img) {
				return
			}
			break
		}
		i = next
	}
	c.add(ruleDFRoot, final.from, "the final stage sets no USER, so the container runs as root", "no USER after "+final.from.text, "medium")
}

func isRootUser(u string) bool {
	u = strings.TrimSpace(u)
	name, _, _ := strings.Cut(u, ":")
	return name == "root" || name == "0"
}

// nonRootImage reports whether an image's name says it runs as a non-root
// user already, as the nonroot tags of distroless images do.
func nonRootImage(img string) bool {
	l := strings.ToLower(img)
	return strings.Contains(l, "nonroot") || strings.Contains(l, "rootless")
}

// imageTagProblem returns "latest" or "untagged" for an image reference
// that is not pinned to a version, and "" otherwise. A digest pins.
func imageTagProblem(ref string) string {
	if ref == "" || strings.Contains(ref, "@") {
		return ""
	}
	last := ref[strings.LastIndexByte(ref, '/')+1:]
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		if strings.EqualFold(last[i+1:], "latest") {
			return "latest"
		}
		return ""
	}
	return "untagged"
}

var secretNameRE = regexp.MustCompile(`(?i)PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL`)

// secretLikeName reports whether an ENV or ARG name says it holds a secret
// value (and not the path of a file that holds one).
func secretLikeName(name string) bool {
	if !secretNameRE.MatchString(name) {
		return false
	}
	u := strings.ToUpper(name)
	for _, suffix := range []string{"_FILE", "_PATH", "_DIR", "_FILENAME", "_LOCATION"} {
		if strings.HasSuffix(u, suffix) {
			return false
		}
	}
	return true
}

// literalValue reports whether an ENV or ARG value is a literal (not empty,
// not a reference to another variable, not a boolean switch).
func literalValue(v string) bool {
	if v == "" || strings.Contains(v, "$") {
		return false
	}
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no":
		return false
	}
	return true
}

// envPairs returns the name=value pairs of an ENV or ARG instruction; an
// ARG without a default has none.
func envPairs(in dfInstruction) (pairs [][2]string) {
	words := splitWords(in.args, '\\')
	if len(words) == 0 {
		return nil
	}
	if in.cmd == "ENV" && !strings.Contains(words[0], "=") {
		// Legacy form: ENV NAME value with spaces.
		name, rest, _ := strings.Cut(strings.TrimSpace(in.args), " ")
		val := strings.Join(splitWords(strings.TrimSpace(rest), '\\'), " ")
		return [][2]string{{name, val}}
	}
	for _, w := range words {
		name, val, ok := strings.Cut(w, "=")
		if !ok {
			continue
		}
		pairs = append(pairs, [2]string{name, val})
	}
	return pairs
}

func (c *dfChecker) checkInstruction(in dfInstruction, posix bool) {
	switch in.cmd {
	case "ENV", "ARG":
		for _, kv := range envPairs(in) {
			if secretLikeName(kv[0]) && literalValue(kv[1]) {
				c.add(ruleDFSecret, in, fmt.Sprintf("%s %s has a literal value, stored in the image", in.cmd, kv[0]),
					in.cmd+" "+kv[0], "medium")
			}
		}
	case "ADD":
		srcs := addSources(in)
		if _, ok := in.flag("checksum"); !ok {
			for _, s := range srcs {
				if l := strings.ToLower(s); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
					c.add(ruleDFAddURL, in, "ADD downloads "+s+" without a checksum", in.text, "high")
					break
				}
			}
		}
		c.checkChmodFlag(in)
	case "COPY":
		c.checkChmodFlag(in)
	case "EXPOSE":
		for _, p := range strings.Fields(in.args) {
			if exposesSSH(p) {
				c.add(ruleDFExposeSSH, in, "EXPOSE "+p+" declares the SSH port", in.text, "medium")
			}
		}
	case "RUN":
		if !posix {
			return
		}
		for _, script := range runScripts(in) {
			for _, is := range analyzeShell(script, in.line) {
				c.addShellIssue(in, is)
			}
		}
	}
}

func (c *dfChecker) addShellIssue(in dfInstruction, is shIssue) {
	switch is.kind {
	case issuePipeShell:
		c.add(ruleDFPipeShell, in, "RUN executes downloaded code unchecked: "+is.detail, in.text, "high")
	case issueEvalRemote:
		c.add(ruleDFPipeShell, in, "RUN evaluates downloaded content: "+is.detail, in.text, "high")
	case issueWorldWritable:
		c.add(ruleDFWorldWrite, in, "RUN sets world-writable permissions: "+is.detail, in.text, "high")
	case issueSudo:
		c.add(ruleDFSudo, in, "RUN uses "+is.detail, in.text, "high")
	case issueInsecureTLS:
		c.add(ruleDFInsecureTLS, in, "RUN disables TLS certificate verification: "+is.detail, in.text, "high")
	}
}

func (c *dfChecker) checkChmodFlag(in dfInstruction) {
	if mode, ok := in.flag("chmod"); ok && worldWritable(mode) {
		c.add(ruleDFWorldWrite, in, fmt.Sprintf("%s --chmod=%s makes the files world-writable", in.cmd, mode), in.text, "high")
	}
}

// addSources returns the sources of an ADD: every argument but the last.
func addSources(in dfInstruction) []string {
	args := in.exec
	if !in.isExec {
		args = strings.Fields(in.args)
	}
	if len(args) < 2 {
		return nil
	}
	return args[:len(args)-1]
}

// exposesSSH reports whether an EXPOSE port spec (22, 22/tcp, 20-25)
// includes TCP port 22.
func exposesSSH(spec string) bool {
	port, proto, _ := strings.Cut(spec, "/")
	if proto != "" && !strings.EqualFold(proto, "tcp") {
		return false
	}
	lo, hi, isRange := strings.Cut(port, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return false
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil {
			return false
		}
	}
	return a <= 22 && 22 <= b
}

// runScripts returns the shell code a RUN executes: its command line, and
// the bodies of its here-documents when a shell runs them.
func runScripts(in dfInstruction) []string {
	if in.isExec {
		if len(in.exec) >= 3 && isShellName(path.Base(in.exec[0])) && in.exec[1] == "-c" {
			return []string{in.exec[2]}
		}
		quoted := make([]string, len(in.exec))
		for i, a := range in.exec {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		return []string{strings.Join(quoted, " ")}
	}
	scripts := []string{in.args}
	if len(in.heredocs) == 0 {
		return scripts
	}
	// RUN <<EOF runs the body with the default shell; RUN bash <<EOF
	// with bash; RUN python3 <<EOF is not shell code.
	lead := strings.TrimSpace(in.args[:strings.Index(in.args, "<<")])
	shellRuns := lead == ""
	if !shellRuns {
		if ps := parseShell(lead, 1); len(ps) == 1 && len(ps[0].cmds) == 1 {
			shellRuns = isShellName(resolveCmd(ps[0].cmds[0].words).name)
		}
	}
	if shellRuns {
		for _, h := range in.heredocs {
			if first, _, _ := strings.Cut(h.body, "\n"); strings.HasPrefix(first, "#!") && !isShellShebang(first) {
				continue
			}
			scripts = append(scripts, h.body)
		}
	}
	return scripts
}
