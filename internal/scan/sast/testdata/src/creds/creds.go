// Package creds holds connection settings.
package creds

import (
	"os"
)

// dbPassword is committed to the repository.
const dbPassword = "Zq8!rT4#vLp2@xW9" // want: G101

// awsKey is an access key committed to the repository.
var awsKey = "AKIAIOSFODNN7EXAMPLE" // want: G101

// passwordMinLength is a policy, not a secret.
const passwordMinLength = 12

// DSN builds the connection string from the committed password.
func DSN() string {
	return "postgres://app:" + dbPassword + "@db/app"
}

// Key returns the committed access key.
func Key() string { return awsKey }

// SafeDSN reads the password from the environment.
func SafeDSN() string {
	password := os.Getenv("DB_PASSWORD")
	return "postgres://app:" + password + "@db/app"
}

// LongEnough applies the password policy.
func LongEnough(p string) bool { return len(p) >= passwordMinLength }
