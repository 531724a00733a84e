package testcode

import "testing"

func TestSecretEnvName(t *testing.T) {
	for name, want := range map[string]bool{
		"GITHUB_TOKEN": true, "NPM_TOKEN": true, "DB_PASSWORD": true, "API_KEY": true, "APIKEY": true,
		"AWS_SECRET_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true, "AWS_SESSION_TOKEN": true,
		"GOOGLE_APPLICATION_CREDENTIALS": true, "client_secret": true, "DB_PASS": true, "NPMTOKEN": true,
		"PWD": false, "OLDPWD": false, "HOME": false, "KEYBOARD_LAYOUT": false, "TOKENIZER_MODE": false,
		"SSH_KEY_PATH": false, "TOKEN_FILE": false, "AWS_REGION": false, "AWS_PROFILE": false,
		"API_KEY_ID": false, "GANTRY_TEST_HOST": false, "": false,
	} {
		if got := secretEnvName(name); got != want {
			t.Errorf("secretEnvName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRemoteHost(t *testing.T) {
	for addr, want := range map[string]string{
		"https://api.github.com/x":    "api.github.com",
		"http://169.254.169.254/":     "169.254.169.254",
		"10.0.0.5:22":                 "10.0.0.5",
		"https://user:pw@evil.io:8/x": "evil.io",
		"http://127.0.0.1:8080/":      "",
		"http://[::1]:9/":             "",
		"localhost:80":                "",
		"http://app.localhost/":       "",
		"https://www.example.com/":    "",
		"https://svc.test/":           "",
		"http://192.0.2.7/":           "",
		"http://webapp/api":           "",
		":8080":                       "",
		"https://\x00/x":              "",
	} {
		got, ok := remoteHost(addr)
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("remoteHost(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestCredentialPath(t *testing.T) {
	for _, tt := range []struct {
		v    value
		want bool
	}{
		{value{kind: valHome, s: "/.ssh/id_rsa"}, true},
		{value{kind: valHome, s: "/.ssh"}, true},
		{value{kind: valHome, s: "/.aws/credentials"}, true},
		{value{kind: valHome, s: "/.docker/config.json"}, true},
		{value{kind: valHome, s: "/.netrc"}, true},
		{lit("/etc/shadow"), true},
		{lit("~/.kube/config"), true},
		{lit("/root/.git-credentials"), true},
		{lit("/home/ci/id_ed25519"), true},
		{lit("testdata/id_rsa"), false},
		{lit("/etc/hosts"), false},
		{lit("/home/ci/id_rsa.pub"), false},
		{value{kind: valTemp, s: "/.ssh/id_rsa"}, false},
		{value{kind: valHome, s: "/.bashrc"}, false},
		{value{}, false},
	} {
		if _, got := credentialPath(tt.v); got != tt.want {
			t.Errorf("credentialPath(%+v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestOutsideTemp(t *testing.T) {
	for _, tt := range []struct {
		v    value
		want bool
	}{
		{lit("/etc/x"), true},
		{lit("/tmp/../etc/x"), true},
		{lit(`C:\Windows\x`), true},
		{value{kind: valHome, s: "/.bashrc"}, true},
		{lit("/tmp/x"), false},
		{lit("/var/tmp/x"), false},
		{lit("/dev/null"), false},
		{lit("/dev/pts/3"), false},
		{lit("rel/x"), false},
		{value{kind: valTemp, s: "/x"}, false},
		{value{}, false},
	} {
		if _, got := outsideTemp(tt.v); got != tt.want {
			t.Errorf("outsideTemp(%+v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestShellCommand(t *testing.T) {
	for _, tt := range []struct {
		prog string
		args []string
		want bool
	}{
		{"sh", nil, true},
		{"/bin/bash", []string{"x.sh"}, true},
		{`C:\Windows\System32\cmd.exe`, []string{"/C", "dir"}, true},
		{"pwsh", nil, true},
		{"python3", []string{"-c", "x"}, true},
		{"node", []string{"-e", "x"}, true},
		{"env", []string{"-i", "A=1", "bash"}, true},
		{"sudo", []string{"-E", "sh"}, true},
		{"git", []string{"-c", "a=b", "commit"}, false},
		{"go", []string{"test", "-c"}, false},
		{"tar", []string{"-c", "f"}, false},
		{"python3", []string{"script.py"}, false},
		{"echo", []string{"sh", "-c"}, false},
	} {
		var args []value
		for _, a := range tt.args {
			args = append(args, lit(a))
		}
		if got := shellCommand(tt.prog, args) != ""; got != tt.want {
			t.Errorf("shellCommand(%q, %q) = %v, want %v", tt.prog, tt.args, got, tt.want)
		}
	}
}
