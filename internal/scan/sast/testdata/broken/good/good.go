// Package good type-checks and has findings of both kinds.
package good

import (
	"crypto/md5"
	"database/sql"
	"net/http"
)

// Sum hashes with MD5.
func Sum(b []byte) [16]byte { return md5.Sum(b) }

// Find builds a query from the request.
func Find(db *sql.DB, r *http.Request) error {
	_, err := db.Exec("DELETE FROM t WHERE id = " + r.FormValue("id"))
	return err
}
