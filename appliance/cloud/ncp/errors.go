package ncp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrorSource says which layer of NCP produced an APIError.
type ErrorSource string

// Error sources.
const (
	// SourceAPI is the service behind the gateway:
	// {"responseError":{"returnCode":"...","returnMessage":"..."}}, or a
	// success-shaped body whose returnCode is not "0".
	SourceAPI ErrorSource = "api"
	// SourceGateway is the API Gateway in front of it (authentication,
	// throttling, endpoint failures):
	// {"error":{"errorCode":"...","message":"...","details":"..."}}.
	SourceGateway ErrorSource = "gateway"
	// SourceHTTP is a failed HTTP status with a body in neither shape (a proxy
	// or load balancer page, an empty body).
	SourceHTTP ErrorSource = "http"
)

// API Gateway error codes (errorCode), from NCP's API Gateway guide.
const (
	GatewayBadRequest       = "100" // 400
	GatewayAuthFailed       = "200" // 401
	GatewayPermissionDenied = "210" // 401
	GatewayForbidden        = "230" // 403
	GatewayNotFound         = "300" // 404
	GatewayQuotaExceeded    = "400" // 429
	GatewayThrottleLimited  = "410" // 429
	GatewayRateLimited      = "420" // 429
	GatewayEntityTooLarge   = "430" // 413
	GatewayEndpointError    = "500" // 503
	GatewayEndpointTimeout  = "510" // 504
	GatewayUnexpectedError  = "900" // 500
)

// APIError is a call that NCP answered with an error. Its message names the
// action, the HTTP status, the code and NCP's message; it never contains
// request headers, so no key material.
type APIError struct {
	Action     string      // e.g. "assignSecondaryIps"
	HTTPStatus int         // the HTTP status code of the answer
	Source     ErrorSource // which layer answered
	Code       string      // returnCode (api) or errorCode (gateway); "" for SourceHTTP
	Message    string      // returnMessage or message, or the start of the body
	Details    string      // the gateway's details, if any
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ncp: %s: HTTP %d", e.Action, e.HTTPStatus)
	switch e.Source {
	case SourceAPI:
		fmt.Fprintf(&b, ": returnCode %s", e.Code)
	case SourceGateway:
		fmt.Fprintf(&b, ": gateway errorCode %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Details != "" {
		fmt.Fprintf(&b, " (%s)", e.Details)
	}
	return b.String()
}

// Throttled reports whether NCP refused the call for its rate: HTTP 429 or the
// gateway's quota, throttle or rate limit codes.
func (e *APIError) Throttled() bool {
	if e.HTTPStatus == http.StatusTooManyRequests {
		return true
	}
	if e.Source == SourceGateway {
		switch e.Code {
		case GatewayQuotaExceeded, GatewayThrottleLimited, GatewayRateLimited:
			return true
		}
	}
	return false
}

// AuthFailure reports whether the credentials were rejected or lack the
// permission: HTTP 401/403 or the gateway's authentication codes. Repeating
// the call cannot help.
func (e *APIError) AuthFailure() bool {
	if e.HTTPStatus == http.StatusUnauthorized || e.HTTPStatus == http.StatusForbidden {
		return true
	}
	if e.Source == SourceGateway {
		switch e.Code {
		case GatewayAuthFailed, GatewayPermissionDenied, GatewayForbidden:
			return true
		}
	}
	return false
}

// Retryable reports whether the same call may succeed later: throttling and
// server-side failures (5xx, the gateway's endpoint errors) are retryable;
// authentication failures and other client errors are not.
func (e *APIError) Retryable() bool {
	if e.AuthFailure() {
		return false
	}
	if e.Throttled() || e.HTTPStatus >= 500 {
		return true
	}
	if e.Source == SourceGateway {
		switch e.Code {
		case GatewayEndpointError, GatewayEndpointTimeout, GatewayUnexpectedError:
			return true
		}
	}
	return false
}

// Temporary is Retryable, under the name net.Error used.
func (e *APIError) Temporary() bool { return e.Retryable() }

// TransportError is a call that got no usable answer: the connection failed,
// the per-call timeout ran out, or the body could not be read. It is always
// retryable.
type TransportError struct {
	Op  string // the action or metadata path
	Err error
}

func (e *TransportError) Error() string { return "ncp: " + e.Op + ": " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// Retryable is always true: the next try may get through.
func (e *TransportError) Retryable() bool { return true }

// Temporary is Retryable.
func (e *TransportError) Temporary() bool { return true }

// Retryable reports whether err is worth retrying: an *APIError or
// *TransportError (or anything else with a Retryable method) that says so.
// Context cancellation is never retryable.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	return false
}

// ErrCredentialsRejected means the API gateway rejected our keys (or they lack
// a permission) and new keys cannot fix it now: fixed keys from the config or
// the environment cannot be refreshed, and fresh Server Role keys were
// rejected too. Errors wrapping it also wrap the gateway's *APIError.
var ErrCredentialsRejected = errors.New("ncp: API keys rejected")

// authFailure reports whether err is an *APIError that AuthFailure.
func authFailure(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.AuthFailure()
}

// flexString decodes a JSON string or number as a string: NCP documents its
// codes as strings, but a number must not break decoding.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

// errorBody is the union of NCP's two error shapes.
type errorBody struct {
	ResponseError *struct {
		ReturnCode    flexString `json:"returnCode"`
		ReturnMessage string     `json:"returnMessage"`
	} `json:"responseError"`
	Error *struct {
		ErrorCode flexString `json:"errorCode"`
		Message   string     `json:"message"`
		Details   string     `json:"details"`
	} `json:"error"`
}

// parseError turns an answer into an *APIError, or returns nil when body
// carries neither error shape and the status is a success.
func parseError(action string, status int, header http.Header, body []byte) *APIError {
	e := &APIError{Action: action, HTTPStatus: status, RetryAfter: retryAfter(header)}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		switch {
		case eb.ResponseError != nil:
			e.Source = SourceAPI
			e.Code = string(eb.ResponseError.ReturnCode)
			e.Message = eb.ResponseError.ReturnMessage
			return e
		case eb.Error != nil:
			e.Source = SourceGateway
			e.Code = string(eb.Error.ErrorCode)
			e.Message = eb.Error.Message
			e.Details = eb.Error.Details
			return e
		}
	}
	if status >= 200 && status < 300 {
		return nil
	}
	e.Source = SourceHTTP
	e.Message = snippet(body)
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// retryAfter reads a Retry-After header given in seconds; 0 when absent.
func retryAfter(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// snippet is the start of a body for an error message, on one line.
func snippet(body []byte) string {
	const max = 200
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "..."
	}
	return s
}
