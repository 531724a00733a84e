package deps

import (
	"encoding/json"
	"testing"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/vulndb"
)

func TestSeverityFromScore(t *testing.T) {
	for _, tt := range []struct {
		score float64
		want  gantry.Severity
	}{
		{10.0, gantry.SeverityCritical}, {9.0, gantry.SeverityCritical}, {8.9, gantry.SeverityHigh},
		{7.0, gantry.SeverityHigh}, {6.9, gantry.SeverityMedium}, {4.0, gantry.SeverityMedium},
		{3.9, gantry.SeverityLow}, {0.1, gantry.SeverityLow}, {0, gantry.SeverityInfo},
	} {
		if got := severityFromScore(tt.score); got != tt.want {
			t.Errorf("severityFromScore(%.1f) = %s, want %s", tt.score, got, tt.want)
		}
	}
}

func TestAdjust(t *testing.T) {
	for _, tt := range []struct {
		in   gantry.Severity
		r    reach
		want gantry.Severity
	}{
		{gantry.SeverityHigh, reachCalled, gantry.SeverityCritical},
		{gantry.SeverityCritical, reachCalled, gantry.SeverityCritical},
		{gantry.SeverityHigh, reachImported, gantry.SeverityHigh},
		{gantry.SeverityHigh, reachUnknown, gantry.SeverityHigh},
		{gantry.SeverityMedium, reachRequired, gantry.SeverityLow},
		{gantry.SeverityInfo, reachRequired, gantry.SeverityInfo},
		{gantry.SeverityInfo, reachCalled, gantry.SeverityLow},
	} {
		if got := adjust(tt.in, tt.r); got != tt.want {
			t.Errorf("adjust(%s, %d) = %s, want %s", tt.in, tt.r, got, tt.want)
		}
	}
}

func TestRate(t *testing.T) {
	v3 := func(v string) []vulndb.Severity { return []vulndb.Severity{{Type: "CVSS_V3", Score: v}} }
	tests := []struct {
		name     string
		entries  []*vulndb.Entry
		affected []*vulndb.Affected
		want     rated
	}{
		{
			name:    "highest score of the aliases",
			entries: []*vulndb.Entry{{ID: "A", Severity: v3("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L")}, {ID: "B", Severity: v3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")}},
			want:    rated{gantry.SeverityCritical, "CVSS 9.8"},
		},
		{
			name:     "the package's own severity first",
			entries:  []*vulndb.Entry{{ID: "A", Severity: v3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")}},
			affected: []*vulndb.Affected{{Severity: v3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N")}},
			want:     rated{gantry.SeverityMedium, "CVSS 5.3"},
		},
		{
			name: "CVSS v4 only: the advisory's word",
			entries: []*vulndb.Entry{{ID: "A", Severity: []vulndb.Severity{{Type: "CVSS_V4", Score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N"}},
				DatabaseSpecific: json.RawMessage(`{"severity": "MODERATE"}`)}},
			want: rated{gantry.SeverityMedium, "advisory: medium"},
		},
		{
			name:    "unreadable vector, no word",
			entries: []*vulndb.Entry{{ID: "A", Severity: v3("CVSS:3.1/AV:N")}},
			want:    rated{gantry.SeverityMedium, "no CVSS"},
		},
		{
			name:    "nothing",
			entries: []*vulndb.Entry{{ID: "GO-1"}},
			want:    rated{gantry.SeverityMedium, "no CVSS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aff := tt.affected
			if aff == nil {
				aff = make([]*vulndb.Affected, len(tt.entries))
			}
			if got := rate(tt.entries, aff); got != tt.want {
				t.Errorf("rate = %+v, want %+v", got, tt.want)
			}
		})
	}
}
