package secrets

import "testing"

func TestAcceptHighEntropy(t *testing.T) {
	random := "Zq8vLm3Nw0" + "Rt5Yx2Kp7Hs"
	for _, c := range []struct {
		secret, path string
		before, next byte
		want         bool
	}{
		{random, "main.go", '"', '"', true},
		{random, "app.env", '=', '\n', true},
		{random, "main.go", ' ', '\n', false}, // unquoted in code: an expression
		{random, "main.go", '"', '(', false},
		{"WordPieceTokenizer2", "config.py", '"', '"', false},
		{"prod-db-credentials-v2", "config.py", '"', '"', false},
		{"2023-10-01.1", "app.env", '=', '\n', false},
		{"config.Settings.Token", "app.yaml", ' ', '\n', false},
		{"0f8e2c1a-9d3b-4c5e-8f7a-6b5c4d3e2f1a", "app.yaml", ' ', '\n', false},
		{"your-api-key-" + "1234567890", "app.env", '=', '\n', false},
		{"abcdefghijklmnop", "app.env", '=', '\n', false},
	} {
		got := acceptHighEntropy(candidate{secret: []byte(c.secret), before: c.before, next: c.next, path: c.path})
		if got != c.want {
			t.Errorf("acceptHighEntropy(%q in %s) = %v, want %v", c.secret, c.path, got, c.want)
		}
	}
}

func TestAcceptPassword(t *testing.T) {
	for pw, want := range map[string]bool{
		"Tr0ub4dor-and-3": true, "hunter2": true,
		"password": false, "changeme": false, "${DB_PASSWORD}": false, "$DB_PASSWORD": false,
		"{{ .Values.pw }}": false, "<password>": false, "xxxx": false, "****": false,
		"%(password)s": false, "%DB_PASS%": false,
	} {
		if got := acceptPassword(candidate{secret: []byte(pw)}); got != want {
			t.Errorf("acceptPassword(%q) = %v, want %v", pw, got, want)
		}
	}
}

func TestTitle(t *testing.T) {
	for id, want := range map[string]string{
		"aws-access-token":                "AWS access token",
		"github-pat":                      "GitHub PAT",
		"pkcs12-file":                     "PKCS#12 file",
		RuleConnectionString:              "Connection string password",
		"generic-api-key":                 "Generic API key",
		"gitlab-cicd-job-token":           "GitLab CI/CD job token",
		"1password-service-account-token": "1Password service account token",
	} {
		if got := titleOf(id); got != want {
			t.Errorf("titleOf(%q) = %q, want %q", id, got, want)
		}
	}
}
