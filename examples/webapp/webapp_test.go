package webapp

import (
	"errors"
	"strings"
	"testing"
)

func TestItemValidate(t *testing.T) {
	for _, tc := range []struct {
		item  Item
		field string // "" means valid
	}{
		{Item{Name: "bolts", Quantity: 0}, ""},
		{Item{Name: "Schraube M4 × 20", Quantity: MaxQuantity}, ""},
		{Item{Name: strings.Repeat("é", MaxItemNameLen), Quantity: 1}, ""},
		{Item{Name: "", Quantity: 1}, "name"},
		{Item{Name: strings.Repeat("x", MaxItemNameLen+1), Quantity: 1}, "name"},
		{Item{Name: "a\nb", Quantity: 1}, "name"},
		{Item{Name: "\xff", Quantity: 1}, "name"},
		{Item{Name: "nuts", Quantity: -1}, "quantity"},
		{Item{Name: "nuts", Quantity: MaxQuantity + 1}, "quantity"},
	} {
		err := tc.item.Validate()
		var verr *ValidationError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tc.item, err)
		case tc.field != "" && (!errors.As(err, &verr) || verr.Field != tc.field):
			t.Errorf("%+v: error %v, want a ValidationError on %s", tc.item, err, tc.field)
		}
	}
}

func TestValidateUsername(t *testing.T) {
	for name, ok := range map[string]bool{
		"admin":                 true,
		"a.b_c-d9":              true,
		"0day":                  true,
		"ab":                    false,
		strings.Repeat("a", 33): false,
		"Admin":                 false,
		"_admin":                false,
		"ad min":                false,
		"adm'in":                false,
	} {
		if err := ValidateUsername(name); (err == nil) != ok {
			t.Errorf("ValidateUsername(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	for pw, ok := range map[string]bool{
		"short":                  false,
		"twelve chars":           true,
		strings.Repeat("x", 256): true,
		strings.Repeat("x", 257): false,
	} {
		if err := ValidatePassword(pw); (err == nil) != ok {
			t.Errorf("ValidatePassword(len %d) = %v, want ok=%v", len(pw), err, ok)
		}
	}
}
