package iac

import (
	"strings"
)

// This file holds a small, forgiving reader of POSIX shell: enough to
// split a script into pipelines of simple commands, with quotes removed
// and command substitutions kept for a second look. It never fails: text
// it does not understand is read as words.

// shWord is one word of a command.
type shWord struct {
	lit  string  // the word with quotes removed; $(…) and `…` kept as written
	subs []shSub // command and process substitutions in the word
	line int     // line where the word starts
}

// shSub is the body of a $(…), `…`, <(…) or >(…).
type shSub struct {
	body string
	line int  // line where the body starts
	proc bool // a process substitution, <(…) or >(…)
}

// shCommand is a simple command: its words, redirections left out.
type shCommand struct {
	words []shWord
}

// shPipeline is one or more commands joined by |.
type shPipeline struct {
	cmds []shCommand
	line int    // line of its first word
	text string // its source text, for messages and fingerprints
}

type shLexer struct {
	s    string
	i    int
	line int

	out []shPipeline

	word     strings.Builder
	inWord   bool
	wordLine int
	subs     []shSub

	cmd       shCommand
	pipe      shPipeline
	pipeStart int
	lastEnd   int
	pipeOpen  bool // a | was read and no command follows it yet
	skipNext  bool // the next word is the target of a redirection
	heredocs  []shHeredoc
}

type shHeredoc struct {
	delim string
	strip bool // <<- strips leading tabs
}

// parseShell splits src into pipelines. Line numbers start at firstLine.
func parseShell(src string, firstLine int) []shPipeline {
	l := &shLexer{s: src, line: firstLine}
	l.run()
	return l.out
}

func (l *shLexer) peek(k int) byte {
	if l.i+k < len(l.s) {
		return l.s[l.i+k]
	}
	return 0
}

func (l *shLexer) run() {
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c == '\\':
			switch n := l.peek(1); n {
			case '\n':
				l.i += 2
				l.line++
			case 0:
				l.i++
			default:
				l.startWord()
				l.word.WriteByte(n)
				l.i += 2
			}
		case c == ' ' || c == '\t' || c == '\r':
			l.endWord()
			l.i++
		case c == '\n':
			l.endWord()
			l.i++
			l.line++
			l.readHeredocs()
			if !l.pipeOpen {
				l.endPipeline()
			}
		case c == '#' && !l.inWord:
			for l.i < len(l.s) && l.s[l.i] != '\n' {
				l.i++
			}
		case c == '\'':
			l.startWord()
			l.i++
			l.readSingle()
		case c == '"':
			l.startWord()
			l.i++
			l.readDouble()
		case c == '`':
			l.startWord()
			l.readBacktick()
		case c == '$':
			l.startWord()
			l.readDollar()
		case (c == '<' || c == '>') && l.peek(1) == '(' && !l.inWord:
			l.startWord()
			start := l.i
			l.i += 2
			line := l.line
			body := l.readBalanced()
			l.word.WriteString(l.s[start:l.i])
			l.subs = append(l.subs, shSub{body: body, line: line, proc: true})
		case c == '|':
			l.endWord()
			if l.peek(1) == '|' {
				l.i += 2
				l.endPipeline()
				continue
			}
			if l.peek(1) == '&' {
				l.i++
			}
			l.i++
			l.endCommand()
			l.pipeOpen = true
		case c == '&':
			l.endWord()
			switch l.peek(1) {
			case '&':
				l.i += 2
				l.endPipeline()
			case '>':
				l.i += 2
				if l.peek(0) == '>' {
					l.i++
				}
				l.skipNext = true
			default:
				l.i++
				l.endPipeline()
			}
		case c == ';' || c == '(' || c == ')':
			l.endWord()
			l.i++
			l.endPipeline()
		case c == '<' || c == '>':
			l.redirect(c)
		default:
			l.startWord()
			l.word.WriteByte(c)
			l.i++
		}
	}
	l.endPipeline()
}

// redirect reads a redirection operator; the word after it is its target
// (or, for <<, a here-document delimiter) and is not part of the command.
func (l *shLexer) redirect(c byte) {
	if l.inWord && len(l.subs) == 0 && isDigits(l.word.String()) {
		l.dropWord() // a file descriptor: 2>
	} else {
		l.endWord()
	}
	if c == '<' && l.peek(1) == '<' {
		if l.peek(2) == '<' { // here-string
			l.i += 3
			l.skipNext = true
			return
		}
		l.i += 2
		strip := false
		if l.peek(0) == '-' {
			strip = true
			l.i++
		}
		for l.i < len(l.s) && (l.s[l.i] == ' ' || l.s[l.i] == '\t') {
			l.i++
		}
		var d strings.Builder
		for l.i < len(l.s) && !strings.ContainsRune(" \t\n;|&<>()", rune(l.s[l.i])) {
			if ch := l.s[l.i]; ch != '\'' && ch != '"' && ch != '\\' {
				d.WriteByte(ch)
			}
			l.i++
		}
		if d.Len() > 0 {
			l.heredocs = append(l.heredocs, shHeredoc{delim: d.String(), strip: strip})
		}
		return
	}
	l.i++
	if n := l.peek(0); n == '>' || n == '|' || n == '&' {
		l.i++
	}
	l.skipNext = true
}

// readHeredocs skips the bodies of the here-documents opened on the line
// just ended; they are data, not commands.
func (l *shLexer) readHeredocs() {
	for _, h := range l.heredocs {
		for l.i < len(l.s) {
			end := strings.IndexByte(l.s[l.i:], '\n')
			var ln string
			if end < 0 {
				ln = l.s[l.i:]
				l.i = len(l.s)
			} else {
				ln = l.s[l.i : l.i+end]
				l.i += end + 1
				l.line++
			}
			if h.strip {
				ln = strings.TrimLeft(ln, "\t")
			}
			if strings.TrimRight(ln, "\r") == h.delim {
				break
			}
		}
	}
	l.heredocs = nil
}

func (l *shLexer) readSingle() {
	for l.i < len(l.s) && l.s[l.i] != '\'' {
		if l.s[l.i] == '\n' {
			l.line++
		}
		l.word.WriteByte(l.s[l.i])
		l.i++
	}
	l.i = min(l.i+1, len(l.s)) // the closing quote
}

func (l *shLexer) readDouble() {
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch c {
		case '"':
			l.i++
			return
		case '\\':
			n := l.peek(1)
			switch n {
			case '\n':
				l.line++
				l.i += 2
			case '"', '\\', '$', '`':
				l.word.WriteByte(n)
				l.i += 2
			default:
				l.word.WriteByte(c)
				l.i++
			}
		case '$':
			l.readDollar()
		case '`':
			l.readBacktick()
		default:
			if c == '\n' {
				l.line++
			}
			l.word.WriteByte(c)
			l.i++
		}
	}
}

// readDollar reads a word part that starts with $ at l.i.
func (l *shLexer) readDollar() {
	start := l.i
	switch l.peek(1) {
	case '(':
		if l.peek(2) == '(' { // arithmetic
			l.i += 3
			l.readBalancedFrom(2)
			l.word.WriteString(l.s[start:l.i])
			return
		}
		l.i += 2
		line := l.line
		body := l.readBalanced()
		l.word.WriteString(l.s[start:l.i])
		l.subs = append(l.subs, shSub{body: body, line: line})
	case '{':
		l.i += 2
		depth := 1
		for l.i < len(l.s) && depth > 0 {
			switch l.s[l.i] {
			case '{':
				depth++
			case '}':
				depth--
			case '\n':
				l.line++
			}
			l.i++
		}
		l.word.WriteString(l.s[start:l.i])
	case '\'':
		l.i += 2
		for l.i < len(l.s) && l.s[l.i] != '\'' {
			if l.s[l.i] == '\\' && l.i+1 < len(l.s) {
				l.i++
			}
			l.word.WriteByte(l.s[l.i])
			l.i++
		}
		l.i = min(l.i+1, len(l.s))
	default:
		l.word.WriteByte('$')
		l.i++
	}
}

func (l *shLexer) readBacktick() {
	l.i++
	line := l.line
	var body strings.Builder
	for l.i < len(l.s) && l.s[l.i] != '`' {
		c := l.s[l.i]
		if c == '\\' && l.i+1 < len(l.s) {
			body.WriteByte(l.s[l.i+1])
			l.i += 2
			continue
		}
		if c == '\n' {
			l.line++
		}
		body.WriteByte(c)
		l.i++
	}
	l.i = min(l.i+1, len(l.s))
	l.word.WriteString("`" + body.String() + "`")
	l.subs = append(l.subs, shSub{body: body.String(), line: line})
}

// readBalanced reads up to the ) that closes a ( just consumed and returns
// the text between them.
func (l *shLexer) readBalanced() string {
	start := l.i
	end := l.readBalancedFrom(1)
	return l.s[start:end]
}

// readBalancedFrom reads until depth unmatched ( are closed, skipping
// quoted text, and returns the index of the last ) read.
func (l *shLexer) readBalancedFrom(depth int) int {
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch c {
		case '\\':
			l.i++
		case '\n':
			l.line++
		case '\'':
			l.i++
			for l.i < len(l.s) && l.s[l.i] != '\'' {
				if l.s[l.i] == '\n' {
					l.line++
				}
				l.i++
			}
		case '"':
			l.i++
			for l.i < len(l.s) && l.s[l.i] != '"' {
				if l.s[l.i] == '\\' {
					l.i++
				} else if l.s[l.i] == '\n' {
					l.line++
				}
				l.i++
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				end := l.i
				l.i++
				return end
			}
		}
		l.i++
	}
	l.i = len(l.s)
	return len(l.s)
}

func (l *shLexer) startWord() {
	if l.inWord {
		return
	}
	l.inWord = true
	l.wordLine = l.line
	if len(l.cmd.words) == 0 && len(l.pipe.cmds) == 0 && !l.skipNext {
		l.pipeStart = l.i
		l.pipe.line = l.line
	}
}

func (l *shLexer) dropWord() {
	l.word.Reset()
	l.subs = nil
	l.inWord = false
}

func (l *shLexer) endWord() {
	if !l.inWord {
		return
	}
	w := shWord{lit: l.word.String(), subs: l.subs, line: l.wordLine}
	l.dropWord()
	l.lastEnd = l.i
	if l.skipNext {
		l.skipNext = false
		return
	}
	l.cmd.words = append(l.cmd.words, w)
	l.pipeOpen = false
}

func (l *shLexer) endCommand() {
	l.endWord()
	if len(l.cmd.words) > 0 {
		l.pipe.cmds = append(l.pipe.cmds, l.cmd)
	}
	l.cmd = shCommand{}
}

func (l *shLexer) endPipeline() {
	l.endCommand()
	if len(l.pipe.cmds) > 0 {
		start := min(l.pipeStart, len(l.s))
		end := min(max(l.lastEnd, start), len(l.s))
		l.pipe.text = strings.TrimSpace(l.s[start:end])
		l.out = append(l.out, l.pipe)
	}
	l.pipe = shPipeline{}
	l.pipeOpen = false
	l.skipNext = false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
