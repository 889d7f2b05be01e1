package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIError is a request the server refused; Status is its answer. When the
// server sent no Status (a proxy's HTML page, say), one is made up from the
// HTTP status and the start of the body.
type APIError struct {
	Status metav1.Status
}

// Error reads as a sentence for people, with one line per cause:
//
//	Pod "web" is invalid:
//	  * spec.containers[0].image: Required value
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.headline())
	var causes []metav1.StatusCause
	if e.Status.Details != nil {
		causes = e.Status.Details.Causes
	}
	if len(causes) > 0 {
		b.WriteString(":")
		for _, c := range causes {
			b.WriteString("\n  * ")
			if c.Field != "" {
				b.WriteString(c.Field + ": ")
			}
			msg := c.Message
			if msg == "" {
				msg = string(c.Type)
			}
			b.WriteString(msg)
		}
	}
	return b.String()
}

// headline is the first line of Error: the server's message, except for
// invalid objects with causes, whose message repeats the causes on one line.
func (e *APIError) headline() string {
	s := e.Status
	d := s.Details
	if s.Reason == metav1.StatusReasonInvalid && d != nil && len(d.Causes) > 0 && d.Kind != "" {
		if d.Name == "" {
			return fmt.Sprintf("%s is invalid", upperFirst(d.Kind))
		}
		return fmt.Sprintf("%s %q is invalid", upperFirst(d.Kind), d.Name)
	}
	msg := strings.TrimRight(strings.TrimSpace(s.Message), ":")
	if msg == "" {
		msg = fmt.Sprintf("%s (HTTP %d)", http.StatusText(int(s.Code)), s.Code)
		if s.Reason != "" {
			msg = fmt.Sprintf("%s (HTTP %d)", s.Reason, s.Code)
		}
	}
	return msg
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// Code is the HTTP status code of the refusal.
func (e *APIError) Code() int { return int(e.Status.Code) }

// Reason is the machine-readable reason (NotFound, Conflict, Invalid ...).
func (e *APIError) Reason() metav1.StatusReason { return e.Status.Reason }

func reasonOf(err error) (metav1.StatusReason, int) {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status.Reason, int(apiErr.Status.Code)
	}
	return "", 0
}

// IsNotFound reports whether err is the server saying the object does not
// exist.
func IsNotFound(err error) bool {
	reason, code := reasonOf(err)
	return reason == metav1.StatusReasonNotFound || code == http.StatusNotFound
}

// IsConflict reports whether err is a failed compare-and-swap (a stale
// resourceVersion) or another conflict.
func IsConflict(err error) bool {
	reason, code := reasonOf(err)
	return reason == metav1.StatusReasonConflict || code == http.StatusConflict
}

// IsAlreadyExists reports whether err is a create of a name that is taken.
func IsAlreadyExists(err error) bool {
	reason, _ := reasonOf(err)
	return reason == metav1.StatusReasonAlreadyExists
}

// IsUnauthorized reports whether the server did not accept the credential
// (missing, expired or revoked token).
func IsUnauthorized(err error) bool {
	reason, code := reasonOf(err)
	return reason == metav1.StatusReasonUnauthorized || code == http.StatusUnauthorized
}

// IsForbidden reports whether the credential is valid but lacks the right.
func IsForbidden(err error) bool {
	reason, code := reasonOf(err)
	return reason == metav1.StatusReasonForbidden || code == http.StatusForbidden
}

// IsGone reports whether a watch asked for a resourceVersion that has been
// compacted away; the caller should list again.
func IsGone(err error) bool {
	reason, code := reasonOf(err)
	return reason == metav1.StatusReasonGone || reason == metav1.StatusReasonExpired || code == http.StatusGone
}

// maxErrorBody bounds how much of a non-Status error body ends up in a
// message.
const maxErrorBody = 512

// errorFromResponse builds the APIError of a failed response from its body.
func errorFromResponse(code int, body []byte) *APIError {
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err == nil && st.Kind == "Status" {
		if st.Code == 0 {
			st.Code = int32(code)
		}
		return &APIError{Status: st}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > maxErrorBody {
		msg = msg[:maxErrorBody] + "..."
	}
	if msg == "" || strings.HasPrefix(msg, "<") {
		msg = fmt.Sprintf("%s (HTTP %d)", http.StatusText(code), code)
	}
	return &APIError{Status: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    int32(code),
		Reason:  reasonForCode(code),
		Message: msg,
	}}
}

func reasonForCode(code int) metav1.StatusReason {
	switch code {
	case http.StatusBadRequest:
		return metav1.StatusReasonBadRequest
	case http.StatusUnauthorized:
		return metav1.StatusReasonUnauthorized
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusMethodNotAllowed:
		return metav1.StatusReasonMethodNotAllowed
	case http.StatusConflict:
		return metav1.StatusReasonConflict
	case http.StatusGone:
		return metav1.StatusReasonGone
	case http.StatusUnprocessableEntity:
		return metav1.StatusReasonInvalid
	case http.StatusTooManyRequests:
		return metav1.StatusReasonTooManyRequests
	case http.StatusGatewayTimeout:
		return metav1.StatusReasonTimeout
	case http.StatusServiceUnavailable:
		return metav1.StatusReasonServiceUnavailable
	}
	if code >= 500 {
		return metav1.StatusReasonInternalError
	}
	return metav1.StatusReasonUnknown
}
