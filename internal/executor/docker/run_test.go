package docker

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	for _, tc := range []struct {
		name   string
		frames []string
		want   []string
	}{
		{"whole lines", []string{"a\n", "b\nc\n"}, []string{"a\n", "b\nc\n"}},
		{"split line", []string{"a", "b", "c\nd", "e\n"}, []string{"abc\n", "de\n"}},
		{"no final newline", []string{"a\nb"}, []string{"a\n", "b"}},
		{"empty", nil, nil},
		{"long line", []string{long, "\n"}, []string{long[:maxLine], long[maxLine:] + "\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got recorder
			l := newLineWriter(&got)
			for _, f := range tc.frames {
				if n, err := l.Write([]byte(f)); n != len(f) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", f, n, err)
				}
			}
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLineWriterError(t *testing.T) {
	boom := errors.New("boom")
	l := newLineWriter(failWriter{boom})
	// Writes go on succeeding, so that the container's output is drained.
	for range 3 {
		if _, err := l.Write([]byte("line\n")); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := l.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush = %v, want %v", err, boom)
	}
}

func TestEntrypoint(t *testing.T) {
	got := entrypoint("echo hi")
	want := []string{"/bin/sh", "-e", "-c", "echo hi"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entrypoint (-want +got):\n%s", diff)
	}
}

// recorder keeps every write it gets.
type recorder struct{ writes []string }

func (r *recorder) Write(p []byte) (int, error) {
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

// failWriter fails every write.
type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }
