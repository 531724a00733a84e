package report

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"gantry.dev/gantry/internal/web/webtest"
)

func TestHTMLStatic(t *testing.T) {
	r, _ := testReport(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, banned := range []string{"<script", "javascript:", "src=", "@import", "url("} {
		if strings.Contains(page, banned) {
			t.Errorf("the page has %q", banned)
		}
	}
	for _, want := range []string{`id="chart-share"`, `id="chart-latency"`, `id="chart-gates"`, "coverage fell from 81% to 74%", "50% of all"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestHTMLInChromium(t *testing.T) {
	r, _ := testReport(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/" {
			http.NotFound(w, req)
			return
		}
		// The strictest policy the page can live with: no script, nothing
		// loaded; a violation shows on the console.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(buf.Bytes())
	}))
	defer srv.Close()

	b := webtest.New(t)
	b.Do("open the report", chromedp.Navigate(srv.URL+"/"))
	b.WaitJS("the page to load", `document.readyState === "complete"`, 0)
	b.Shot("report")
	for _, id := range []string{"chart-share", "chart-latency", "chart-gates"} {
		size := b.Eval(`(() => { const s = document.querySelector("#` + id + ` svg"); if (!s) return "missing"; const r = s.getBoundingClientRect(); return Math.round(r.width) + "x" + Math.round(r.height); })()`)
		w, h, ok := strings.Cut(size, "x")
		wi, _ := strconv.Atoi(w)
		hi, _ := strconv.Atoi(h)
		if !ok || wi < 300 || hi < 60 {
			t.Errorf("chart %s: size %s", id, size)
		}
	}
	if n := b.Eval(`String(document.querySelectorAll("#chart-share rect.standard").length)`); n != "2" {
		t.Errorf("%s standard bars in the share chart, want 2 (two days with standard changes)", n)
	}
	if n := b.Eval(`String(document.querySelectorAll("#chart-gates rect.gatebar").length)`); n != "2" {
		t.Errorf("%s bars in the gate failures chart, want 2", n)
	}
	if got := b.Text("#changes tbody tr"); !strings.Contains(got, "c1") {
		t.Errorf("first change row: %q", got)
	}
	if n := b.Eval(`String(document.scripts.length)`); n != "0" {
		t.Errorf("%s scripts on the page", n)
	}
	for _, line := range b.Console() {
		t.Errorf("console: %s", line)
	}
}
