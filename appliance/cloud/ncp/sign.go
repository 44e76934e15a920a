package ncp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"
)

// The API Gateway authentication headers.
const (
	HeaderTimestamp = "x-ncp-apigw-timestamp"    // Unix time in milliseconds
	HeaderAccessKey = "x-ncp-iam-access-key"     // the access key ID
	HeaderSignature = "x-ncp-apigw-signature-v2" // Base64(HMAC-SHA256(secret, string to sign))
)

// MaxClockSkew is how far the gateway lets x-ncp-apigw-timestamp be from its
// own clock before it rejects the request ("more than 5 minutes" in NCP's
// API guide).
const MaxClockSkew = 5 * time.Minute

// Sign returns the x-ncp-apigw-signature-v2 value for a request:
//
//	Base64(HMAC-SHA256(secretKey, method + " " + requestURI + "\n" + timestamp + "\n" + accessKey))
//
// requestURI is the path and raw query exactly as sent on the wire (what
// url.URL.RequestURI returns for the request's URL); timestamp is the value of
// the x-ncp-apigw-timestamp header.
func Sign(secretKey, method, requestURI, timestamp, accessKey string) string {
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(method))
	mac.Write([]byte(" "))
	mac.Write([]byte(requestURI))
	mac.Write([]byte("\n"))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("\n"))
	mac.Write([]byte(accessKey))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Timestamp formats t as the gateway wants it: Unix milliseconds.
func Timestamp(t time.Time) string {
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// SignRequest sets the three authentication headers on req, signing
// req.URL.RequestURI(): net/http writes that same string as the request
// target, so what is signed is exactly what the gateway receives.
func SignRequest(req *http.Request, creds Credentials, now time.Time) {
	ts := Timestamp(now)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderAccessKey, creds.AccessKey)
	req.Header.Set(HeaderSignature, Sign(creds.SecretKey, req.Method, req.URL.RequestURI(), ts, creds.AccessKey))
}
