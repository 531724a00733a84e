package iac

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// dfInstruction is one Dockerfile instruction, its continuation lines
// joined.
type dfInstruction struct {
	cmd      string   // the keyword, upper case: RUN
	flags    []string // leading --name=value flags
	args     string   // the rest, as written
	exec     []string // the arguments of the JSON (exec) form, if used
	isExec   bool
	heredocs []dfHeredoc
	line     int            // first line, 1-based
	text     string         // keyword and arguments, for messages and fingerprints
	inner    *dfInstruction // the instruction an ONBUILD carries
}

// dfHeredoc is a here-document given to an instruction (RUN <<EOF).
type dfHeredoc struct {
	name string
	body string
	line int // line of the body's first line
}

// dfStage is one FROM and the instructions up to the next.
type dfStage struct {
	from  dfInstruction
	image string // as written after FROM and its flags
	name  string // the AS name, lower case
	insts []dfInstruction
}

// dockerfile is a parsed Dockerfile.
type dockerfile struct {
	directives map[string]string // parser directives: syntax, escape, check
	args       map[string]string // defaults of the ARGs before the first FROM
	stages     []*dfStage
}

var knownInstructions = map[string]bool{
	"ADD": true, "ARG": true, "CMD": true, "COPY": true, "ENTRYPOINT": true, "ENV": true,
	"EXPOSE": true, "FROM": true, "HEALTHCHECK": true, "LABEL": true, "MAINTAINER": true,
	"ONBUILD": true, "RUN": true, "SHELL": true, "STOPSIGNAL": true, "USER": true,
	"VOLUME": true, "WORKDIR": true,
}

var (
	directiveRE = regexp.MustCompile(`^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$`)
	keywordRE   = regexp.MustCompile(`^[A-Za-z]+$`)
	heredocRE   = regexp.MustCompile(`<<(-?)\s*(["']?)([A-Za-z_][A-Za-z0-9_.-]*)(["']?)`)
)

// parseDockerfile parses a Dockerfile: parser directives, line
// continuations (with the escape character the file chooses), comments,
// here-documents and stages. It fails on what docker build would reject:
// an unknown instruction, an instruction other than ARG before the first
// FROM, an unterminated here-document, no FROM at all.
func parseDockerfile(data []byte) (*dockerfile, error) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	lines := strings.Split(text, "\n")
	df := &dockerfile{directives: map[string]string{}, args: map[string]string{}}

	i := 0
	for ; i < len(lines); i++ {
		m := directiveRE.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			break
		}
		key := strings.ToLower(m[1])
		if key != "syntax" && key != "escape" && key != "check" {
			break
		}
		if _, dup := df.directives[key]; dup {
			break
		}
		df.directives[key] = m[2]
	}
	escape := byte('\\')
	if e, ok := df.directives["escape"]; ok {
		switch e {
		case "\\":
		case "`":
			escape = '`'
		default:
			return nil, fmt.Errorf("line 1: escape directive %q is not \\ or `", e)
		}
	}

	var cur *dfStage
	for i < len(lines) {
		trimmed := strings.TrimLeft(lines[i], " \t")
		if trimmed == "" || trimmed[0] == '#' {
			i++
			continue
		}
		start := i
		var buf strings.Builder
		ln := trimmed
		for {
			body, more := cutContinuation(ln, escape)
			buf.WriteString(body)
			i++
			if !more {
				break
			}
			for i < len(lines) {
				t := strings.TrimLeft(lines[i], " \t")
				if t != "" && t[0] != '#' {
					break
				}
				i++
			}
			if i >= len(lines) {
				break
			}
			ln = lines[i]
		}
		inst, err := parseInstruction(buf.String(), start+1)
		if err != nil {
			return nil, err
		}
		for _, h := range heredocsOf(inst) {
			bodyStart := i
			var body strings.Builder
			closed := false
			for i < len(lines) {
				l := lines[i]
				i++
				cmp := l
				if h.strip {
					cmp = strings.TrimLeft(l, "\t")
				}
				if cmp == h.name {
					closed = true
					break
				}
				body.WriteString(cmp)
				body.WriteByte('\n')
			}
			if !closed {
				return nil, fmt.Errorf("line %d: here-document %s is not terminated", start+1, h.name)
			}
			inst.heredocs = append(inst.heredocs, dfHeredoc{name: h.name, body: body.String(), line: bodyStart + 1})
		}

		switch {
		case inst.cmd == "FROM":
			f := strings.Fields(inst.args)
			if len(f) == 0 {
				return nil, fmt.Errorf("line %d: FROM without an image", inst.line)
			}
			cur = &dfStage{from: inst, image: f[0]}
			if len(f) >= 3 && strings.EqualFold(f[1], "AS") {
				cur.name = strings.ToLower(f[2])
			}
			df.stages = append(df.stages, cur)
		case cur == nil && inst.cmd == "ARG":
			for _, kv := range splitWords(inst.args, escape) {
				name, val, _ := strings.Cut(kv, "=")
				df.args[name] = val
			}
		case cur == nil:
			return nil, fmt.Errorf("line %d: %s before the first FROM", inst.line, inst.cmd)
		default:
			cur.insts = append(cur.insts, inst)
		}
	}
	if len(df.stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return df, nil
}

// cutContinuation removes a trailing escape character (and whitespace after
// it) from line and reports whether there was one.
func cutContinuation(line string, escape byte) (string, bool) {
	t := strings.TrimRight(line, " \t")
	if len(t) > 0 && t[len(t)-1] == escape {
		return t[:len(t)-1], true
	}
	return line, false
}

func parseInstruction(s string, line int) (dfInstruction, error) {
	s = strings.TrimSpace(s)
	kw, rest, _ := strings.Cut(s, " ")
	if k, r, ok := strings.Cut(s, "\t"); ok && len(k) < len(kw) {
		kw, rest = k, r
	}
	if !keywordRE.MatchString(kw) {
		return dfInstruction{}, fmt.Errorf("line %d: %q is not an instruction", line, truncate(kw, 40))
	}
	cmd := strings.ToUpper(kw)
	if !knownInstructions[cmd] {
		return dfInstruction{}, fmt.Errorf("line %d: unknown instruction %s", line, cmd)
	}
	inst := dfInstruction{cmd: cmd, line: line}
	rest = strings.TrimSpace(rest)
	switch cmd {
	case "FROM", "RUN", "COPY", "ADD", "HEALTHCHECK":
		for strings.HasPrefix(rest, "--") {
			flag, r, _ := strings.Cut(rest, " ")
			if f, r2, ok := strings.Cut(rest, "\t"); ok && len(f) < len(flag) {
				flag, r = f, r2
			}
			inst.flags = append(inst.flags, flag)
			rest = strings.TrimSpace(r)
		}
	case "ONBUILD":
		in, err := parseInstruction(rest, line)
		if err != nil {
			return dfInstruction{}, err
		}
		if in.cmd == "ONBUILD" || in.cmd == "FROM" || in.cmd == "MAINTAINER" {
			return dfInstruction{}, fmt.Errorf("line %d: ONBUILD %s is not allowed", line, in.cmd)
		}
		inst.inner = &in
	}
	inst.args = rest
	inst.text = strings.Join(strings.Fields(s), " ")
	if strings.HasPrefix(rest, "[") {
		var list []string
		if json.Unmarshal([]byte(rest), &list) == nil {
			inst.exec, inst.isExec = list, true
		}
	}
	return inst, nil
}

type heredocMark struct {
	name  string
	strip bool
}

// heredocsOf returns the here-documents an instruction opens, in order.
// Only RUN, COPY and ADD take them.
func heredocsOf(inst dfInstruction) []heredocMark {
	switch inst.cmd {
	case "RUN", "COPY", "ADD":
	default:
		return nil
	}
	if inst.isExec {
		return nil
	}
	var out []heredocMark
	for _, m := range heredocRE.FindAllStringSubmatchIndex(inst.args, -1) {
		if m[0] > 0 && inst.args[m[0]-1] == '<' { // <<< is a here-string
			continue
		}
		open, name, close := inst.args[m[4]:m[5]], inst.args[m[6]:m[7]], inst.args[m[8]:m[9]]
		if open != close {
			continue
		}
		out = append(out, heredocMark{name: name, strip: m[3] > m[2]})
	}
	return out
}

// flag returns the value of the --name flag of the instruction.
func (in dfInstruction) flag(name string) (string, bool) {
	for _, f := range in.flags {
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if k == name {
			return v, true
		}
	}
	return "", false
}

// splitWords splits Dockerfile arguments into words, honouring double and
// single quotes and the escape character, and removing them.
func splitWords(s string, escape byte) []string {
	var out []string
	var b strings.Builder
	in := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == escape && quote == '"' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == escape && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, b.String())
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
