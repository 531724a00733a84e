package iac

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"gantry.dev/gantry"
)

// shIssueKind is a kind of risky shell usage; Dockerfile RUN steps and
// shell scripts map them to their own rules.
type shIssueKind int

const (
	issuePipeShell shIssueKind = iota + 1
	issueEvalRemote
	issueWorldWritable
	issueInsecureTLS
	issueSudo
)

// shIssue is one risky usage found in shell code.
type shIssue struct {
	kind   shIssueKind
	line   int
	text   string // the pipeline it is in
	detail string // what exactly, for the message
}

// maxShellDepth bounds how deep nested command substitutions are read.
const maxShellDepth = 8

// analyzeShell reports the risky usages in src, whose first line is
// firstLine.
func analyzeShell(src string, firstLine int) []shIssue {
	var out []shIssue
	analyzeShellDepth(src, firstLine, 0, &out)
	return out
}

func analyzeShellDepth(src string, firstLine, depth int, out *[]shIssue) {
	if depth > maxShellDepth {
		return
	}
	for _, p := range parseShell(src, firstLine) {
		add := func(kind shIssueKind, detail string) {
			*out = append(*out, shIssue{kind: kind, line: p.line, text: p.text, detail: detail})
		}
		cmds := make([]resolvedCmd, len(p.cmds))
		for i, c := range p.cmds {
			cmds[i] = resolveCmd(c.words)
		}
		// runner[i] is the first command after i that executes its input.
		runner := make([]int, len(cmds))
		next := -1
		for i := len(cmds) - 1; i >= 0; i-- {
			runner[i] = next
			if cmds[i].runsStdin() {
				next = i
			}
		}
		for i, c := range cmds {
			if c.sudo {
				add(issueSudo, "sudo "+c.name)
			}
			if fetcher := c.fetchesToStdout(); fetcher != "" && runner[i] >= 0 {
				add(issuePipeShell, fmt.Sprintf("%s output piped to %s", fetcher, cmds[runner[i]].name))
			}
			if f := c.runsFetchedSub(); f != "" {
				add(issuePipeShell, fmt.Sprintf("%s runs the output of %s", c.name, f))
			}
			if c.name == "eval" {
				for _, w := range c.args {
					if f := subFetches(w); f != "" {
						add(issueEvalRemote, "eval of "+f+" output")
						break
					}
				}
			}
			if mode := c.worldWritableMode(); mode != "" {
				add(issueWorldWritable, fmt.Sprintf("%s %s", c.name, mode))
			}
			if what := c.insecureTLS(); what != "" {
				add(issueInsecureTLS, what)
			}
		}
		for _, c := range p.cmds {
			for _, w := range c.words {
				for _, s := range w.subs {
					analyzeShellDepth(s.body, s.line, depth+1, out)
				}
			}
		}
	}
}

// resolvedCmd is a command with the wrappers (sudo, env, nohup, …) and
// variable assignments in front of it taken off.
type resolvedCmd struct {
	name   string   // base name of the program run
	args   []shWord // its arguments
	sudo   bool     // run through sudo or doas
	assign []string // NAME=value words before the command
}

var assignRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func resolveCmd(words []shWord) resolvedCmd {
	var r resolvedCmd
	i := 0
	skipOpts := func(withArg string) {
		for i < len(words) {
			w := words[i].lit
			if w == "--" {
				i++
				return
			}
			if !strings.HasPrefix(w, "-") || w == "-" {
				return
			}
			i++
			if len(w) == 2 && strings.Contains(withArg, w[1:]) {
				i++
			}
		}
	}
	for i < len(words) {
		w := words[i].lit
		switch {
		case assignRE.MatchString(w):
			r.assign = append(r.assign, w)
			i++
		case w == "if" || w == "then" || w == "elif" || w == "else" || w == "do" ||
			w == "while" || w == "until" || w == "!" || w == "{" || w == "time" ||
			w == "exec" || w == "nohup" || w == "builtin":
			i++
		case w == "command":
			if i+1 < len(words) && (words[i+1].lit == "-v" || words[i+1].lit == "-V") {
				r.name = "command"
				r.args = words[i+1:]
				return r
			}
			i++
		case w == "sudo" || w == "doas":
			r.sudo = true
			i++
			skipOpts("ugCDhprtUTc")
		case w == "env":
			i++
			skipOpts("uSC")
			for i < len(words) && assignRE.MatchString(words[i].lit) {
				r.assign = append(r.assign, words[i].lit)
				i++
			}
		case w == "nice" || w == "ionice" || w == "stdbuf":
			i++
			skipOpts("ncpt")
		case w == "timeout":
			i++
			skipOpts("sk")
			i++ // the duration
		default:
			r.name = path.Base(w)
			r.args = words[i+1:]
			return r
		}
	}
	return r
}

// curlArgOpts are curl's single-letter options that take an argument; in
// a cluster such as -fsSLo, the rest of the cluster is that argument.
const curlArgOpts = "AbcCdDeEFHKmoPQrtTuUwxXyYz"

// wgetArgOpts are wget's single-letter options that take an argument.
const wgetArgOpts = "aABDeiIlOoPQRtTUwX"

// shortOpts calls fn for each letter of a short-option cluster, with the
// argument of a letter in argOpts (the rest of the cluster, or the next
// word). It returns how many following words were consumed.
func shortOpts(cluster string, next string, argOpts string, fn func(letter byte, arg string)) int {
	for j := 1; j < len(cluster); j++ {
		if strings.IndexByte(argOpts, cluster[j]) >= 0 {
			if j+1 < len(cluster) {
				fn(cluster[j], cluster[j+1:])
				return 0
			}
			fn(cluster[j], next)
			return 1
		}
		fn(cluster[j], "")
	}
	return 0
}

// fetchesToStdout returns the program's name if it downloads something and
// writes it to standard output (curl without -o/-O, wget -O -).
func (c resolvedCmd) fetchesToStdout() string {
	switch c.name {
	case "curl":
		stdout := true
		c.eachOpt(curlArgOpts, func(opt, arg string) {
			switch opt {
			case "o", "output":
				stdout = arg == "-" || arg == "/dev/stdout"
			case "O", "remote-name", "remote-name-all":
				stdout = false
			}
		})
		if stdout {
			return "curl"
		}
	case "wget":
		stdout := false
		c.eachOpt(wgetArgOpts, func(opt, arg string) {
			if opt == "O" || opt == "output-document" {
				stdout = arg == "-" || arg == "/dev/stdout"
			}
		})
		if stdout {
			return "wget"
		}
	}
	return ""
}

// eachOpt calls fn for every option of the command, short or long, with
// its argument where it has one (long options only as --name=value).
func (c resolvedCmd) eachOpt(argOpts string, fn func(opt, arg string)) {
	for i := 0; i < len(c.args); i++ {
		a := c.args[i].lit
		switch {
		case a == "--":
			return
		case strings.HasPrefix(a, "--"):
			name, val, _ := strings.Cut(a[2:], "=")
			if val == "" && (name == "output" || name == "output-document") && i+1 < len(c.args) {
				val = c.args[i+1].lit
				i++
			}
			fn(name, val)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			next := ""
			if i+1 < len(c.args) {
				next = c.args[i+1].lit
			}
			i += shortOpts(a, next, argOpts, func(letter byte, arg string) { fn(string(letter), arg) })
		}
	}
}

// interpreters read a program from standard input when given none.
var interpreters = map[string]bool{
	"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "mksh": true, "zsh": true, "fish": true,
	"python": true, "python2": true, "python3": true, "perl": true, "ruby": true, "node": true, "php": true,
}

func isShellName(name string) bool {
	switch name {
	case "sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "fish":
		return true
	}
	return false
}

// runsStdin reports whether the command executes what it reads on
// standard input: an interpreter with no program operand (or with -s or
// -), or source /dev/stdin.
func (c resolvedCmd) runsStdin() bool {
	if c.name == "." || c.name == "source" {
		return len(c.args) > 0 && (c.args[0].lit == "/dev/stdin" || c.args[0].lit == "-")
	}
	if !interpreters[c.name] {
		return false
	}
	for i := 0; i < len(c.args); i++ {
		a := c.args[i].lit
		switch {
		case a == "-s" || a == "-":
			return true
		case a == "-c" || a == "-e" || a == "-m" || a == "-p" || a == "-r":
			return false
		case a == "-o" || a == "+o" || a == "-O" || a == "+O":
			i++
		case strings.HasPrefix(a, "-") || strings.HasPrefix(a, "+"):
			if isShellName(c.name) && strings.Contains(a[1:], "c") && !strings.HasPrefix(a, "--") {
				return false
			}
		default:
			return false // a script file
		}
	}
	return true
}

// runsFetchedSub returns the downloader if the command runs downloaded
// code given as a substitution: sh -c "$(curl …)", bash <(curl …),
// source <(wget -O- …).
func (c resolvedCmd) runsFetchedSub() string {
	if c.name == "." || c.name == "source" {
		if len(c.args) > 0 {
			return subFetches(c.args[0])
		}
		return ""
	}
	if !interpreters[c.name] {
		return ""
	}
	for i := 0; i < len(c.args); i++ {
		a := c.args[i].lit
		switch {
		case a == "-c" || a == "-e":
			if i+1 < len(c.args) {
				return subFetches(c.args[i+1])
			}
			return ""
		case a == "-o" || a == "+o":
			i++
		case strings.HasPrefix(a, "-") || strings.HasPrefix(a, "+"):
		default:
			// The first operand is the program file.
			for _, s := range c.args[i].subs {
				if s.proc && fetchesIn(s.body) != "" {
					return fetchesIn(s.body)
				}
			}
			return ""
		}
	}
	return ""
}

// subFetches returns the downloader if a substitution in w downloads to
// its output.
func subFetches(w shWord) string {
	for _, s := range w.subs {
		if f := fetchesIn(s.body); f != "" {
			return f
		}
	}
	return ""
}

func fetchesIn(src string) string {
	for _, p := range parseShell(src, 1) {
		for _, c := range p.cmds {
			if f := resolveCmd(c.words).fetchesToStdout(); f != "" {
				return f
			}
		}
	}
	return ""
}

// worldWritableMode returns the mode if the command gives every user write
// access: chmod MODE, mkdir -m MODE, install -m MODE.
func (c resolvedCmd) worldWritableMode() string {
	switch c.name {
	case "chmod":
		for _, a := range c.args {
			if strings.HasPrefix(a.lit, "-") {
				continue
			}
			if worldWritable(a.lit) {
				return a.lit
			}
			return ""
		}
	case "mkdir", "install":
		for i, a := range c.args {
			var mode string
			switch {
			case a.lit == "-m" || a.lit == "--mode":
				if i+1 < len(c.args) {
					mode = c.args[i+1].lit
				}
			case strings.HasPrefix(a.lit, "--mode="):
				mode = strings.TrimPrefix(a.lit, "--mode=")
			case strings.HasPrefix(a.lit, "-m") && len(a.lit) > 2:
				mode = a.lit[2:]
			}
			if mode != "" && worldWritable(mode) {
				return "-m " + mode
			}
		}
	}
	return ""
}

// worldWritable reports whether a chmod mode, octal or symbolic, grants
// write permission to others. Modes that set the sticky bit, the usual
// form of a shared scratch directory, do not count.
func worldWritable(mode string) bool {
	if mode == "" || strings.ContainsAny(mode, "$`") {
		return false
	}
	if n, err := strconv.ParseUint(mode, 8, 32); err == nil && len(mode) <= 5 {
		return n&0o1000 == 0 && n&0o002 != 0
	}
	for _, clause := range strings.Split(mode, ",") {
		who := strings.TrimLeft(clause, "ugoa")
		others := strings.ContainsAny(clause[:len(clause)-len(who)], "oa")
		if !others {
			continue
		}
		// The rest is a sequence of operator and permissions: +w, =rwx, -x+w.
		op := byte(0)
		grantW, sticky := false, false
		for i := 0; i < len(who); i++ {
			switch ch := who[i]; ch {
			case '+', '-', '=':
				op = ch
			case 'w':
				if op == '+' || op == '=' {
					grantW = true
				}
			case 't':
				if op == '+' || op == '=' {
					sticky = true
				}
			}
		}
		if grantW && !sticky {
			return true
		}
	}
	return false
}

var gitSSLVerifyRE = regexp.MustCompile(`(?i)^http(\..*)?\.sslverify=(false|0|no|off)$`)

// insecureTLS says how the command disables certificate verification, or
// returns "".
func (c resolvedCmd) insecureTLS() string {
	for _, a := range c.assign {
		if v, ok := strings.CutPrefix(a, "GIT_SSL_NO_VERIFY="); ok && v != "" && v != "0" && v != "false" {
			return "GIT_SSL_NO_VERIFY"
		}
	}
	switch c.name {
	case "curl":
		found := ""
		c.eachOpt(curlArgOpts, func(opt, _ string) {
			if opt == "k" || opt == "insecure" {
				found = "curl --insecure"
			}
		})
		return found
	case "wget":
		for _, a := range c.args {
			if a.lit == "--no-check-certificate" {
				return "wget --no-check-certificate"
			}
		}
	case "git":
		for i, a := range c.args {
			if a.lit == "-c" && i+1 < len(c.args) && gitSSLVerifyRE.MatchString(c.args[i+1].lit) {
				return "git -c " + c.args[i+1].lit
			}
			if a.lit == "config" {
				for j := i + 1; j+1 < len(c.args); j++ {
					if gitSSLVerifyRE.MatchString(c.args[j].lit + "=" + c.args[j+1].lit) {
						return "git config " + c.args[j].lit + " " + c.args[j+1].lit
					}
				}
			}
		}
	case "export":
		for _, a := range c.args {
			if v, ok := strings.CutPrefix(a.lit, "GIT_SSL_NO_VERIFY="); ok && v != "" && v != "0" && v != "false" {
				return "GIT_SSL_NO_VERIFY"
			}
		}
	}
	return ""
}

// checkShellScript checks a shell script at rel.
func checkShellScript(rel string, data []byte) []gantry.Finding {
	var out []gantry.Finding
	seen := map[string]bool{}
	for _, is := range analyzeShell(string(data), 1) {
		var rule, msg string
		switch is.kind {
		case issuePipeShell:
			rule, msg = ruleSHPipeShell, "downloaded code is executed unchecked: "+is.detail
		case issueEvalRemote:
			rule, msg = ruleSHEvalRemote, "downloaded content is executed with eval: "+is.detail
		case issueWorldWritable:
			rule, msg = ruleSHWorldWrite, "world-writable permissions: "+is.detail
		case issueInsecureTLS:
			rule, msg = ruleSHInsecureTLS, "TLS certificate verification disabled: "+is.detail
		default:
			continue
		}
		k := fmt.Sprintf("%s\x00%d\x00%s", rule, is.line, is.text)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, newFinding(rule, rel, is.line, 0, msg, is.text, "high"))
	}
	return out
}
