package hostimage

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// GVariant text format, as `ostree show --print-metadata-key` prints
// metadata and `ostree commit --add-metadata` reads it: enough of it for
// strings, numbers, booleans, arrays and tuples (the package lists).

// gvString quotes s as a GVariant string literal.
func gvString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// parseGVariant reads one value in GVariant text format: strings become
// string, numbers int64 or float64, booleans bool, arrays and tuples []any.
func parseGVariant(text string) (any, error) {
	p := &gvParser{s: text}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("gvariant: trailing text at %d: %.20q", p.i, p.s[p.i:])
	}
	return v, nil
}

type gvParser struct {
	s string
	i int
}

func (p *gvParser) space() {
	for p.i < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.i])) {
		p.i++
	}
}

func (p *gvParser) value() (any, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("gvariant: unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '@': // a type annotation: @a(sss) []
		for p.i < len(p.s) && p.s[p.i] != ' ' {
			p.i++
		}
		return p.value()
	case c == '[' || c == '(':
		return p.list(c)
	case c == '\'' || c == '"':
		return p.str()
	case c == '<':
		p.i++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '>' {
			return nil, fmt.Errorf("gvariant: unclosed variant")
		}
		p.i++
		return v, nil
	}
	word := p.word()
	switch word {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "byte", "int16", "uint16", "int32", "uint32", "int64", "uint64", "handle", "double":
		return p.value() // a typed number: uint64 0
	}
	if n, err := strconv.ParseInt(word, 0, 64); err == nil {
		return n, nil
	}
	if f, err := strconv.ParseFloat(word, 64); err == nil {
		return f, nil
	}
	return nil, fmt.Errorf("gvariant: unexpected %q", word)
}

func (p *gvParser) word() string {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(" \t\r\n,)]>", rune(p.s[p.i])) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *gvParser) list(open byte) ([]any, error) {
	closing := byte(']')
	if open == '(' {
		closing = ')'
	}
	p.i++
	out := []any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == closing {
			p.i++
			return out, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("gvariant: unclosed %c", open)
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case closing:
		default:
			return nil, fmt.Errorf("gvariant: unexpected %q in a list", p.s[p.i])
		}
	}
}

func (p *gvParser) str() (string, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\' && p.i+1 < len(p.s):
			p.i += 2
			switch e := p.s[p.i-1]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'u', 'U':
				n := 4
				if e == 'U' {
					n = 8
				}
				if p.i+n > len(p.s) {
					return "", fmt.Errorf("gvariant: short \\%c escape", e)
				}
				r, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
				if err != nil || !utf8.ValidRune(rune(r)) {
					return "", fmt.Errorf("gvariant: bad \\%c escape", e)
				}
				b.WriteRune(rune(r))
				p.i += n
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", fmt.Errorf("gvariant: unclosed string")
}
