package change

import (
	"errors"
	"os"
	"testing"
	"time"
)

// FuzzParseConfig checks that no input makes ParseConfig panic, that every
// error has a position and a message, and that what parses is usable.
func FuzzParseConfig(f *testing.F) {
	data, err := os.ReadFile("testdata/changes.yml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("environments:\n  - name: production\n    freeze: [{weekly: \"sat 00:00 - sat 24:00\"}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.yml", data)
		if err != nil {
			if cfg != nil {
				t.Fatal("a config and an error")
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("%T is not a non-empty ErrorList: %v", err, err)
			}
			for _, e := range list {
				if e.Line < 1 || e.Col < 0 || e.Msg == "" {
					t.Fatalf("an error without a position or a message: %#v", e)
				}
			}
			return
		}
		if cfg.Threshold < 0 || cfg.SizeLines < 1 || cfg.SizeFiles < 1 || cfg.HistoryDays < 1 || cfg.WorkingHours.To <= cfg.WorkingHours.From {
			t.Fatalf("an invalid config parsed: %+v", cfg)
		}
		now := time.Date(2026, 3, 7, 2, 10, 0, 0, time.UTC)
		for _, e := range cfg.Environments {
			if e.Name == "" {
				t.Fatal("an environment without a name")
			}
			for _, w := range cfg.Freezes(e.Name, now) {
				if !w.End.After(w.Start) {
					t.Fatalf("an empty freeze window %+v", w)
				}
				if !w.End.After(now) && len(e.Weekly) > 0 && len(e.FreezeWindows) == 0 {
					t.Fatalf("a weekly window %+v that is over", w)
				}
			}
		}
		Classify(cfg, Facts{Now: now, Freezes: cfg.Freezes("", now)})
	})
}
