// Package netconf configures network clients and servers, some of them
// insecurely.
package netconf

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// InsecureClient skips certificate verification.
func InsecureClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // want: G402
}

// LegacyServerTLS accepts TLS 1.0.
func LegacyServerTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS10} // want: G402
}

// ServerTLS requires TLS 1.2 or later.
func ServerTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// ClientTLS requires TLS 1.3.
func ClientTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13}
}

// ListenAll binds every interface.
func ListenAll() (net.Listener, error) {
	return net.Listen("tcp", "0.0.0.0:8080") // want: G102
}

// ListenLocal binds the loopback interface.
func ListenLocal() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:8080")
}

// Serve serves with no timeouts at all.
func Serve(h http.Handler) error {
	return http.ListenAndServe("127.0.0.1:8081", h) // want: G114
}

// SlowServer has no header timeout.
func SlowServer(h http.Handler) *http.Server {
	return &http.Server{Addr: "127.0.0.1:8082", Handler: h} // want: G112
}

// SafeServer has timeouts.
func SafeServer(h http.Handler) *http.Server {
	return &http.Server{Addr: "127.0.0.1:8083", Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
}
