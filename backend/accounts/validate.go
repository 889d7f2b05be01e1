package accounts

import (
	"fmt"
	"regexp"
	"unicode/utf8"
)

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

const (
	minPasswordLen = 8    // characters
	maxPasswordLen = 1024 // bytes; argon2 would take anything, but requests should not
)

// validateLabel checks a user or project name: a DNS-1123 label, as for a
// Kubernetes namespace.
func validateLabel(what, name string) error {
	if len(name) > 63 || !dnsLabel.MatchString(name) {
		return fmt.Errorf("%s name %q: must be at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit: %w", what, name, ErrInvalid)
	}
	return nil
}

// validateTokenName checks a token name: a DNS-1123 subdomain, as for a
// Kubernetes object.
func validateTokenName(name string) error {
	if len(name) > 253 || !dnsSubdomain.MatchString(name) {
		return fmt.Errorf("token name %q: must be at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit: %w", name, ErrInvalid)
	}
	return nil
}

func validatePassword(password string) error {
	if utf8.RuneCountInString(password) < minPasswordLen {
		return fmt.Errorf("password must have at least %d characters: %w", minPasswordLen, ErrInvalid)
	}
	if len(password) > maxPasswordLen {
		return fmt.Errorf("password must have at most %d bytes: %w", maxPasswordLen, ErrInvalid)
	}
	return nil
}
