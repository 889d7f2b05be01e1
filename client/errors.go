package client

import (
	"encoding/json"
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
// It is an apierrors.APIStatus, so apierrors.IsNotFound and the other
// classifiers of k8s.io/apimachinery work on it and on errors that wrap it.
type APIError struct {
	status metav1.Status
}

// Status is the server's answer; it makes APIError an apierrors.APIStatus.
func (e *APIError) Status() metav1.Status { return e.status }

// Error reads as a sentence for people, with one line per cause:
//
//	Pod "web" is invalid:
//	  * spec.containers[0].image: Required value
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.headline())
	var causes []metav1.StatusCause
	if e.status.Details != nil {
		causes = e.status.Details.Causes
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
	s := e.status
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
func (e *APIError) Code() int { return int(e.status.Code) }

// Reason is the machine-readable reason (NotFound, Conflict, Invalid ...).
func (e *APIError) Reason() metav1.StatusReason { return e.status.Reason }

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
		return &APIError{status: st}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > maxErrorBody {
		msg = msg[:maxErrorBody] + "..."
	}
	if msg == "" || strings.HasPrefix(msg, "<") {
		msg = fmt.Sprintf("%s (HTTP %d)", http.StatusText(code), code)
	}
	return &APIError{status: metav1.Status{
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
