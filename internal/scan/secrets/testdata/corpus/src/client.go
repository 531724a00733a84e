// Package client talks to the orders service. The credentials in this
// file are fake, planted for the secrets scanner tests.
package client

import (
	"net/http"
	"os"
)

const (
	githubToken = "ghp_NBPBTrbEpvpDbnIIAp00zKLMcyKHKi7M07Qb"
	stripeKey   = "sk_test_bStdd8AgdmX2sau4rEE7naW8mHDKw3Oa"
)

var sessionJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiAiZmFrZS11c2VyLTAwMDEiLCAibmFtZSI6ICJUZXN0IE9ubHkiLCAiaWF0IjogMTcwMDAwMDAwMH0.7MXGHbzrlfVSF_R08nbGAfmtaTcVbDOQo6LmkpqhzaQ"

var signingKey = []byte("NGrTFhxhavBToSo2IeJKfLjG7A0nIQoC")

// Look-alikes that are not secrets:
func newRequest(cfg Config) (*http.Request, error) {
	token := os.Getenv("GITHUB_TOKEN")
	password := cfg.Password
	requestID := "a458845e-8228-4548-bfb4-ae93c1cf57ea"
	apiKey := cfg.APIKey
	secretName := "orders-db-credentials"
	_ = password
	return build(token, requestID, apiKey, secretName)
}
