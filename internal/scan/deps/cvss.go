package deps

import (
	"fmt"
	"math"
	"strings"
)

// cvss3 is a parsed CVSS v3.0 or v3.1 vector: its base metrics.
type cvss3 struct {
	minor                   int // 0 or 1
	av, ac, pr, ui, c, i, a string
	scopeChanged            bool
}

// cvss3Allowed lists the metrics a v3 vector may hold and their values;
// temporal and environmental metrics are accepted and ignored, since only
// the base score is computed.
var cvss3Allowed = map[string]string{
	"AV": "NALP", "AC": "LH", "PR": "NLH", "UI": "NR", "S": "UC",
	"C": "HLN", "I": "HLN", "A": "HLN",
	"E": "XUPFH", "RL": "XOTWU", "RC": "XURC",
	"CR": "XLMH", "IR": "XLMH", "AR": "XLMH",
	"MAV": "XNALP", "MAC": "XLH", "MPR": "XNLH", "MUI": "XNR", "MS": "XUC",
	"MC": "XNLH", "MI": "XNLH", "MA": "XNLH",
}

// parseCVSS3 reads a vector such as
// CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H. Every base metric must be
// present once; unknown metrics or values are errors.
func parseCVSS3(vector string) (cvss3, error) {
	var v cvss3
	parts := strings.Split(strings.TrimSpace(vector), "/")
	switch parts[0] {
	case "CVSS:3.0":
		v.minor = 0
	case "CVSS:3.1":
		v.minor = 1
	default:
		return v, fmt.Errorf("cvss vector %q: not CVSS 3.0 or 3.1", vector)
	}
	seen := map[string]string{}
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, ":")
		allowed, known := cvss3Allowed[k]
		if !ok || !known || len(val) != 1 || !strings.Contains(allowed, val) {
			return v, fmt.Errorf("cvss vector %q: bad metric %q", vector, p)
		}
		if _, dup := seen[k]; dup {
			return v, fmt.Errorf("cvss vector %q: metric %s given twice", vector, k)
		}
		seen[k] = val
	}
	for _, k := range []string{"AV", "AC", "PR", "UI", "S", "C", "I", "A"} {
		if seen[k] == "" {
			return v, fmt.Errorf("cvss vector %q: base metric %s missing", vector, k)
		}
	}
	v.av, v.ac, v.pr, v.ui = seen["AV"], seen["AC"], seen["PR"], seen["UI"]
	v.c, v.i, v.a = seen["C"], seen["I"], seen["A"]
	v.scopeChanged = seen["S"] == "C"
	return v, nil
}

// baseScore computes the CVSS v3 base score (0.0–10.0) by the formulas of
// the FIRST CVSS v3.1 specification, section 7.1; v3.0 vectors differ only
// in their rounding.
func (v cvss3) baseScore() float64 {
	av := map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}[v.av]
	ac := map[string]float64{"L": 0.77, "H": 0.44}[v.ac]
	ui := map[string]float64{"N": 0.85, "R": 0.62}[v.ui]
	var pr float64
	switch v.pr {
	case "N":
		pr = 0.85
	case "L":
		pr = 0.62
		if v.scopeChanged {
			pr = 0.68
		}
	case "H":
		pr = 0.27
		if v.scopeChanged {
			pr = 0.5
		}
	}
	cia := map[string]float64{"H": 0.56, "L": 0.22, "N": 0}
	iss := 1 - (1-cia[v.c])*(1-cia[v.i])*(1-cia[v.a])
	var impact float64
	if v.scopeChanged {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	if impact <= 0 {
		return 0
	}
	exploitability := 8.22 * av * ac * pr * ui
	sum := impact + exploitability
	if v.scopeChanged {
		sum *= 1.08
	}
	return v.roundUp(math.Min(sum, 10))
}

// roundUp rounds up to one decimal. v3.1 does it on an integer scale so
// that float error cannot add a tenth (4.000000001 stays 4.0); v3.0 used a
// plain ceiling.
func (v cvss3) roundUp(x float64) float64 {
	if v.minor == 0 {
		return math.Ceil(x*10) / 10
	}
	n := int64(math.Round(x * 100000))
	if n%10000 == 0 {
		return float64(n) / 100000
	}
	return float64(n/10000+1) / 10
}

// CVSS3BaseScore returns the base score of a CVSS v3.0 or v3.1 vector.
func CVSS3BaseScore(vector string) (float64, error) {
	v, err := parseCVSS3(vector)
	if err != nil {
		return 0, err
	}
	return v.baseScore(), nil
}
