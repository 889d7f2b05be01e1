package hostimage

import (
	"errors"
	"fmt"
	"strings"
)

// Source is one stanza of a deb822 .sources file (sources.list(5)).
type Source struct {
	Types      []string
	URIs       []string
	Suites     []string
	Components []string
	// Fields are every field of the stanza, as written (Signed-By,
	// Architectures, Trusted ...).
	Fields map[string]string
}

// ParseSources reads a deb822 .sources file. Every enabled stanza needs
// Types, URIs and Suites, and Components unless its suite is a path
// (flat repositories, "Suites: ./").
func ParseSources(data []byte) ([]Source, error) {
	stanzas, err := parseDeb822(string(data))
	if err != nil {
		return nil, err
	}
	var out []Source
	for i, st := range stanzas {
		if strings.EqualFold(st["Enabled"], "no") {
			continue
		}
		s := Source{
			Types: strings.Fields(st["Types"]), URIs: strings.Fields(st["URIs"]),
			Suites: strings.Fields(st["Suites"]), Components: strings.Fields(st["Components"]), Fields: st,
		}
		switch {
		case len(s.Types) == 0:
			return nil, fmt.Errorf("stanza %d: Types is missing (want deb)", i+1)
		case len(s.URIs) == 0:
			return nil, fmt.Errorf("stanza %d: URIs is missing", i+1)
		case len(s.Suites) == 0:
			return nil, fmt.Errorf("stanza %d: Suites is missing", i+1)
		}
		flat := strings.HasSuffix(s.Suites[0], "/")
		if !flat && len(s.Components) == 0 {
			return nil, fmt.Errorf("stanza %d: Components is missing (only a flat repository, Suites: ./, has none)", i+1)
		}
		for _, u := range s.URIs {
			if !strings.Contains(u, ":") {
				return nil, fmt.Errorf("stanza %d: URI %q has no scheme (http:, https:, file: ...)", i+1, u)
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no enabled stanza: want Types, URIs, Suites and Components")
	}
	return out, nil
}

// parseDeb822 reads paragraphs of "Field: value" lines; a line starting
// with white space continues the field before it; "#" starts a comment.
func parseDeb822(text string) ([]map[string]string, error) {
	var out []map[string]string
	cur := map[string]string{}
	last := ""
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, last = map[string]string{}, ""
	}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("line %d: a continuation line without a field before it", n+1)
			}
			cur[last] += "\n" + strings.TrimSpace(line)
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok || strings.ContainsAny(k, " \t") || k == "" {
				return nil, fmt.Errorf("line %d: want \"Field: value\", got %q", n+1, line)
			}
			last = k
			cur[k] = strings.TrimSpace(v)
		}
	}
	flush()
	return out, nil
}
