// Command vulnerable is a deliberately insecure web service: every problem
// in it is planted so that Gantry's security gates have something to find.
// Do not deploy it, and do not copy from it.
package main

import (
	"crypto/md5"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"

	"golang.org/x/text/language"
)

// PLANTED: hard-coded credentials (secrets).
const (
	awsAccessKeyID = "AKIA2VQ7LZ3MHQ5SXKRT"
	databaseURL    = "postgres://app:Vq7pLz3mHq5sXkRt@db.internal:5432/app"
)

var db *sql.DB

func main() {
	http.HandleFunc("/user", userHandler)
	http.HandleFunc("/ping", pingHandler)
	http.HandleFunc("/lang", langHandler)
	log.Printf("using key %s…", awsAccessKeyID[:4])
	// PLANTED: a file anyone may write (sast: file permissions).
	if err := os.WriteFile("/tmp/vulnerable.log", []byte("started\n"), 0o666); err != nil {
		log.Print(err)
	}
	log.Fatal(http.ListenAndServe(":8080", nil))
}

// userHandler builds SQL from the request (sast: SQL injection).
func userHandler(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	rows, err := db.Query("SELECT id, email FROM users WHERE name = '" + name + "'")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rows.Close()
	fmt.Fprintln(w, "ok")
}

// pingHandler runs a shell with the request's input (sast: command
// injection) and skips TLS verification (sast: TLS misconfiguration).
func pingHandler(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Query().Get("host")
	out, err := exec.Command("sh", "-c", "ping -c 1 "+host).CombinedOutput()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	_, _ = client.Get("https://" + host + "/health")
	sum := md5.Sum(out) // sast: weak hash
	fmt.Fprintln(w, hex.EncodeToString(sum[:]))
}

// langHandler parses a language tag with a vulnerable golang.org/x/text
// (deps: a reachable known vulnerability).
func langHandler(w http.ResponseWriter, r *http.Request) {
	tag, err := language.Parse(r.URL.Query().Get("tag"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintln(w, tag.String())
}
