package secrets

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// logSample is git log -p -U0 --format=%x00%H output: a commit that
// deletes a file and edits one, and one that adds a file holding an added
// line that looks like a diff header.
const logSample = "\x00" + "2222222222222222222222222222222222222222\n" +
	"\n" +
	"diff --git a/gone.txt b/gone.txt\n" +
	"deleted file mode 100644\n" +
	"--- a/gone.txt\n" +
	"+++ /dev/null\n" +
	"@@ -1 +0,0 @@\n" +
	"-bye\n" +
	"diff --git a/app.env b/app.env\n" +
	"--- a/app.env\n" +
	"+++ b/app.env\n" +
	"@@ -3 +3,2 @@ HEADER\n" +
	"-old=1\n" +
	"+new=1\n" +
	"+more=2\n" +
	"@@ -10,0 +12 @@\n" +
	"+tail=3\n" +
	"\\ No newline at end of file\n" +
	"\x00" + "1111111111111111111111111111111111111111\n" +
	"\n" +
	"diff --git \"a/dir/tab\\there.txt\" \"b/dir/tab\\there.txt\"\n" +
	"new file mode 100644\n" +
	"--- /dev/null\n" +
	"+++ \"b/dir/tab\\there.txt\"\n" +
	"@@ -0,0 +1,2 @@\n" +
	"++++ b/not-a-header\n" +
	"+diff --git looks like a header\n" +
	"diff --git a/bin.dat b/bin.dat\n" +
	"Binary files /dev/null and b/bin.dat differ\n"

func TestParseLog(t *testing.T) {
	type change struct {
		Path, Commit, Data string
		Lines              []int
		Seq                int
	}
	var got []change
	var gaps []string
	n, err := parseLog(strings.NewReader(logSample), 1<<20, func(j *job) error {
		got = append(got, change{j.rel, j.commit, string(j.data), j.lines, j.seq})
		return nil
	}, func(what, reason string) { gaps = append(gaps, what) })
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d commits, want 2", n)
	}
	want := []change{
		{"app.env", strings.Repeat("2", 40), "new=1\nmore=2\ntail=3\n", []int{3, 4, 12}, 1},
		{"dir/tab\there.txt", strings.Repeat("1", 40), "+++ b/not-a-header\ndiff --git looks like a header\n", []int{1, 2}, 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if len(gaps) != 0 {
		t.Errorf("gaps: %v", gaps)
	}

	// Added lines over the size limit make a gap.
	got, gaps = nil, nil
	if _, err := parseLog(strings.NewReader(logSample), 10, func(j *job) error {
		got = append(got, change{Path: j.rel})
		return nil
	}, func(what, reason string) { gaps = append(gaps, what) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 || len(gaps) != 2 {
		t.Errorf("with a 10-byte limit: changes %v, gaps %v", got, gaps)
	}
}

func FuzzParseLog(f *testing.F) {
	f.Add([]byte(logSample))
	f.Add([]byte("\x00abc\n+++ b/x\n@@ -0,0 +1 @@\n+y\n"))
	f.Fuzz(func(t *testing.T, log []byte) {
		_, err := parseLog(strings.NewReader(string(log)), 1<<16, func(j *job) error {
			if len(j.lines) != strings.Count(string(j.data), "\n") {
				t.Fatalf("%d lines for %q", len(j.lines), j.data)
			}
			if j.rel == "" {
				t.Fatal("a change without a path")
			}
			return nil
		}, func(string, string) {})
		if err != nil {
			t.Fatal(err)
		}
	})
}
