package engine

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/secrets"
)

// maxLine bounds one log line; a longer run of output without a newline is
// cut into lines of this size.
const maxLine = 64 << 10

// flushLines is how many lines a step's log buffers before they are written
// to the store; the rest is written when the step ends.
const flushLines = 512

// stepLog turns a step's output into masked, numbered, timestamped lines:
// it emits each as an event, keeps a digest of the whole log and hands the
// lines to the store in batches.
type stepLog struct {
	step  string
	run   gantry.RunID
	mask  *secrets.Masker
	now   func() time.Time
	emit  func(gantry.Event)
	flush func([]gantry.LogLine) error

	mu      sync.Mutex
	seq     int64
	pending []gantry.LogLine
	digest  hash.Hash
	err     error // the first flush error

	wmu  sync.Mutex    // held while a batch is written, so batches keep their order
	stop chan struct{} // stops the periodic flush
	done chan struct{}
}

// newStepLog returns a step's log. With every > 0, lines are also written
// at least that often, so that a server sees a step's log as it runs.
func newStepLog(run gantry.RunID, step string, mask *secrets.Masker, now func() time.Time, emit func(gantry.Event), flush func([]gantry.LogLine) error, every time.Duration) *stepLog {
	l := &stepLog{run: run, step: step, mask: mask, now: now, emit: emit, flush: flush, digest: sha256.New()}
	if every > 0 {
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(l.done)
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-l.stop:
					return
				case <-t.C:
					l.flushPending()
				}
			}
		}()
	}
	return l
}

// flushPending writes the lines not written yet.
func (l *stepLog) flushPending() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(batch) > 0 {
		l.write(batch)
	}
}

// writer returns an io.Writer for one stream. Each writer keeps its own
// partial line, so interleaved stdout and stderr never mix within a line.
func (l *stepLog) writer(s gantry.Stream) *lineWriter { return &lineWriter{log: l, stream: s} }

// add records one complete line. Output that is not valid UTF-8, or holds
// NUL bytes, is made printable first: logs are text everywhere they go.
func (l *stepLog) add(s gantry.Stream, text string) {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	if strings.IndexByte(text, 0) >= 0 {
		text = strings.ReplaceAll(text, "\x00", "\uFFFD")
	}
	text = l.mask.Mask(text)
	l.mu.Lock()
	l.seq++
	line := gantry.LogLine{Step: l.step, Seq: l.seq, Time: l.now(), Stream: s, Text: text}
	fmt.Fprintf(l.digest, "%d %s %s\n", line.Seq, line.Stream, line.Text)
	l.pending = append(l.pending, line)
	full := len(l.pending) >= flushLines
	l.mu.Unlock()
	l.emit(gantry.Event{Type: gantry.EventLog, Time: line.Time, RunID: l.run, Step: l.step, Log: &line})
	if full {
		l.flushPending()
	}
}

// systemf adds a line of Gantry's own to the log.
func (l *stepLog) systemf(format string, args ...any) {
	l.add(gantry.System, fmt.Sprintf(format, args...))
}

func (l *stepLog) write(batch []gantry.LogLine) {
	if err := l.flush(batch); err != nil {
		l.mu.Lock()
		if l.err == nil {
			l.err = err
		}
		l.mu.Unlock()
	}
}

// close writes what is left and returns the log's digest and the first
// error met while storing it.
func (l *stepLog) close() (gantry.Digest, error) {
	if l.stop != nil {
		close(l.stop)
		<-l.done
	}
	l.flushPending()
	l.mu.Lock()
	defer l.mu.Unlock()
	return gantry.NewDigest(l.digest.Sum(nil)), l.err
}

// lineWriter splits a stream into lines.
type lineWriter struct {
	log    *stepLog
	stream gantry.Stream
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= maxLine {
				w.log.add(w.stream, string(w.buf[:maxLine]))
				w.buf = append(w.buf[:0], w.buf[maxLine:]...)
			}
			break
		}
		line := p[:i]
		if len(w.buf) > 0 {
			line = append(w.buf, line...)
			w.buf = w.buf[:0]
		}
		w.log.add(w.stream, string(bytes.TrimSuffix(line, []byte("\r"))))
		p = p[i+1:]
	}
	return n, nil
}

// close emits a last line that had no newline.
func (w *lineWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.log.add(w.stream, string(w.buf))
		w.buf = nil
	}
}
