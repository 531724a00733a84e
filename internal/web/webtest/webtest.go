// Package webtest drives the web UI in a real headless Chromium for tests:
// it finds the browser (or skips, unless GANTRY_TEST_BROWSER=1 says the
// test must run), starts one tab with the background-networking features
// off, and records what pages say on the console, so that a test can fail
// on a Content-Security-Policy violation or an exception.
package webtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of a Chromium to drive: GANTRY_CHROMIUM, else
// the first on PATH. Without one the test skips, or fails when
// GANTRY_TEST_BROWSER=1 (as in CI).
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("GANTRY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GANTRY_TEST_BROWSER") == "1" {
		t.Fatal("GANTRY_TEST_BROWSER=1 but no Chromium is on PATH: apt-get install chromium, or set GANTRY_CHROMIUM to its path")
	}
	t.Skip("no Chromium on PATH: apt-get install chromium to run the browser tests (GANTRY_TEST_BROWSER=1 makes its absence a failure)")
	return ""
}

// Browser is one headless Chromium tab.
type Browser struct {
	t   testing.TB
	ctx context.Context

	mu      sync.Mutex
	console []string
}

// New starts a browser that lives until the test ends.
func New(t testing.TB) *Browser {
	t.Helper()
	path := Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	b := &Browser{t: t, ctx: ctx}
	// Start the browser now, so that a missing library fails here, clearly.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, string(m.Type)+": "+m.String())
			b.mu.Unlock()
		}
	}()
	return b
}

// Context is the tab's context, for chromedp calls of a test's own.
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs actions, failing the test with the console when one fails.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.Shot("failed")
		b.t.Fatalf("%s: %v\nconsole:\n%s", what, err, b.ConsoleText())
	}
}

// WaitJS waits until a JavaScript expression is true, for up to timeout
// (20 s when 0). A page that is navigating away, or loading, is waited
// for.
func (b *Browser) WaitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	deadline := time.Now().Add(timeout)
	var err error
	for {
		_, err = chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil || !navigating(err) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		b.Shot("failed")
		html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		b.t.Fatalf("wait for %s (%s): %v\nconsole:\n%s\npage:\n%s", what, expr, err, b.ConsoleText(), html)
	}
}

// navigating reports whether err says that the page's JavaScript context
// went away under a poll: a navigation.
func navigating(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find context") || strings.Contains(msg, "context was destroyed") ||
		strings.Contains(msg, "Inspected target navigated")
}

// Text returns the trimmed text of the first element sel selects.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// Eval evaluates a JavaScript expression whose value is a string.
func (b *Browser) Eval(expr string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// Console returns what pages said on the console so far, a line each.
func (b *Browser) Console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// ConsoleText is Console as one text.
func (b *Browser) ConsoleText() string { return strings.Join(b.Console(), "\n") }

// Shot saves a screenshot when GANTRY_WEB_SCREENSHOTS names a directory:
// to look at the pages as people see them.
func (b *Browser) Shot(name string) {
	dir := os.Getenv("GANTRY_WEB_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}
