//go:build integration

package web

import (
	"math/rand"
	"strconv"
)

// testTicket is built only with -tags integration.
func testTicket() string {
	return strconv.Itoa(rand.Int()) // tagged: G404
}
