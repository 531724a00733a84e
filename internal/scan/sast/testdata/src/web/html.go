package web

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	texttemplate "text/template"
)

var page = template.Must(template.New("page").Parse(`<p>Hello {{.Name}}</p>{{.Banner}}`))

type pageData struct {
	Name   string
	Banner template.HTML
}

// Greet marks the input as safe HTML: XSS.
func Greet(w http.ResponseWriter, r *http.Request) {
	banner := template.HTML(r.FormValue("banner")) // want: G203
	if err := page.Execute(w, pageData{Name: "guest", Banner: banner}); err != nil {
		http.Error(w, "render failed", http.StatusInternalServerError)
	}
}

// Echo writes the input into an HTML response unescaped: XSS.
func Echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprintf(w, "<p>%s</p>", r.FormValue("msg")) // want: G705
}

// Preview parses a template supplied by the user: template injection.
func Preview(w http.ResponseWriter, r *http.Request) {
	tpl, err := texttemplate.New("preview").Parse(r.FormValue("template")) // want: G708
	if err != nil {
		http.Error(w, "bad template", http.StatusBadRequest)
		return
	}
	if err := tpl.Execute(w, nil); err != nil {
		http.Error(w, "render failed", http.StatusInternalServerError)
	}
}

// SafeGreet lets html/template escape the input, and marks only a
// constant as HTML.
func SafeGreet(w http.ResponseWriter, r *http.Request) {
	data := pageData{Name: r.FormValue("name"), Banner: template.HTML("<b>Welcome</b>")}
	if err := page.Execute(w, data); err != nil {
		http.Error(w, "render failed", http.StatusInternalServerError)
	}
}

// SafeEcho escapes the input before writing it.
func SafeEcho(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprintf(w, "<p>%s</p>", html.EscapeString(r.FormValue("msg")))
}

// EchoHTML declares HTML and writes the input into it: XSS.
func EchoHTML(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, r.FormValue("msg")) // want: G705
}

// EchoText writes the input as plain text, which browsers do not render.
func EchoText(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.WriteString(w, r.FormValue("msg"))
}
