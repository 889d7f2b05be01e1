package hostimage

import (
	"errors"
	"strings"
)

// ErrInvalid is the class of every problem with a definition: the errors
// Load and Validate return are an ErrorList, which errors.Is ErrInvalid.
var ErrInvalid = errors.New("invalid host image definition")

// ErrUnavailable is the class of a compose that could not run because
// something it needs is missing on this machine (rpm-ostree, ostree,
// mmdebstrap) or does not answer (a package mirror).
var ErrUnavailable = errors.New("unavailable")

// Problem is one thing wrong with a definition, named by the file it is in
// and the key at fault ("add-files[1]"), as a person fixing it reads it.
type Problem struct {
	// File is the definition file, relative to the definition's directory.
	File string `json:"file"`
	// Key is the treefile key, with an index for list items ("units[2]");
	// empty for a problem of the whole file (it does not parse).
	Key    string `json:"key,omitempty"`
	Detail string `json:"detail"`
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Key != "" {
		b.WriteString(": ")
		b.WriteString(p.Key)
	}
	b.WriteString(": ")
	b.WriteString(p.Detail)
	return b.String()
}

// ErrorList is what is wrong with a definition, every problem found.
type ErrorList []Problem

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, p := range l {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// Is makes an ErrorList errors.Is ErrInvalid.
func (l ErrorList) Is(target error) bool { return target == ErrInvalid }

// Problems returns the problems err holds (nil when it holds none).
func Problems(err error) ErrorList {
	var l ErrorList
	if errors.As(err, &l) {
		return l
	}
	return nil
}

// problems collects the problems of one load.
type problems struct{ list ErrorList }

func (ps *problems) add(file, key, detail string) {
	ps.list = append(ps.list, Problem{File: file, Key: key, Detail: detail})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return ps.list
}
