// Package web holds HTTP handlers, some of them vulnerable.
package web

import (
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
)

// Store serves user records.
type Store struct {
	DB *sql.DB
}

// UserByName builds the query with a format string: SQL injection.
func (s *Store) UserByName(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	row := s.DB.QueryRowContext(r.Context(), fmt.Sprintf("SELECT id FROM users WHERE name = '%s'", name)) // want: G201 G701
	var id int
	if err := row.Scan(&id); err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	fmt.Fprintln(w, strconv.Itoa(id))
}

// DeleteItem concatenates the input into the statement: SQL injection.
func (s *Store) DeleteItem(w http.ResponseWriter, r *http.Request) {
	id := r.FormValue("id")
	if _, err := s.DB.Exec("DELETE FROM items WHERE id = " + id); err != nil { // want: G202 G701
		http.Error(w, "delete failed", http.StatusInternalServerError)
	}
}

// SafeUserByName passes the input as a query argument.
func (s *Store) SafeUserByName(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	row := s.DB.QueryRowContext(r.Context(), "SELECT id FROM users WHERE name = ?", name)
	var id int
	if err := row.Scan(&id); err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	fmt.Fprintln(w, strconv.Itoa(id))
}

// itemColumns is a constant part of a statement.
const itemColumns = "id, name, quantity"

// SafeDeleteItem builds the statement from constants only and passes the
// input as an argument.
func (s *Store) SafeDeleteItem(w http.ResponseWriter, r *http.Request) {
	if _, err := s.DB.Exec("DELETE FROM items WHERE "+"id = ?", r.FormValue("id")); err != nil {
		http.Error(w, "delete failed", http.StatusInternalServerError)
	}
}

// SafeListItems formats only a constant into the statement.
func (s *Store) SafeListItems(r *http.Request) (*sql.Rows, error) {
	return s.DB.QueryContext(r.Context(), "SELECT "+itemColumns+" FROM items WHERE owner = ?", r.FormValue("owner"))
}
