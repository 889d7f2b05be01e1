package api

import (
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

// errNotPlain: a batch body that decodeRecordList leaves to the general
// decoders.
var errNotPlain = errors.New("not a plain usage batch")

// decodeRecordList decodes a batch of usage records as agents send it,
// scanning its bytes once: an object of kind, apiVersion, an empty
// metadata and items, each record's members named exactly, strings without
// escapes, JSON numbers and RFC 3339 times, no member twice, valid UTF-8,
// nothing after. The strings that repeat from record to record (node,
// pod, project ...) are made once per batch. Anything else, including what
// the general decoder would take (null, an escape), is errNotPlain: the
// caller then decodes the body the general way, which accepts or refuses
// it and says why. FuzzDecodeRecordList checks it never takes what the
// general decoder refuses, or reads it otherwise. It decodes a batch
// several times faster than reflection, allocating a fraction.
func decodeRecordList(body []byte, list *berthv1.UsageRecordList) error {
	if !utf8.Valid(body) {
		return errNotPlain
	}
	s := recordScanner{b: body, strs: map[string]string{}}
	var seen uint8
	ok := s.object(func(name []byte) bool {
		var bit uint8
		ok := true
		switch string(name) {
		case "kind":
			bit = 1
			list.Kind, ok = s.string()
		case "apiVersion":
			bit = 2
			list.APIVersion, ok = s.string()
		case "metadata":
			bit = 4
			ok = s.next('{') && s.next('}')
		case "items":
			bit = 8
			list.Items, ok = s.records(len(body) / 400)
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return ok
	})
	if s.space(); !ok || s.i != len(s.b) {
		return errNotPlain
	}
	return nil
}

// recordScanner reads the plain form of a batch; its methods report
// false for anything else.
type recordScanner struct {
	b []byte
	i int
	// strs are the strings read so far, by their bytes.
	strs map[string]string
}

// space skips JSON's white space.
func (s *recordScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c, after white space.
func (s *recordScanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads an object, calling member with each member's name to read
// its value.
func (s *recordScanner) object(member func(name []byte) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		name, ok := s.raw()
		if !ok || !s.next(':') || !member(name) {
			return false
		}
		if !s.next(',') {
			return s.next('}')
		}
	}
}

func (s *recordScanner) records(capacity int) ([]berthv1.UsageRecord, bool) {
	if !s.next('[') {
		return nil, false
	}
	items := make([]berthv1.UsageRecord, 0, capacity)
	if s.next(']') {
		return items, true
	}
	for {
		items = append(items, berthv1.UsageRecord{})
		if !s.record(&items[len(items)-1]) {
			return nil, false
		}
		if !s.next(',') {
			return items, s.next(']')
		}
	}
}

func (s *recordScanner) record(r *berthv1.UsageRecord) bool {
	var seen uint32
	return s.object(func(name []byte) bool {
		var bit uint32
		ok := true
		switch string(name) {
		case "node":
			bit = 1 << 0
			r.Node, ok = s.string()
		case "containerID":
			bit = 1 << 1
			r.ContainerID, ok = s.string()
		case "windowStart":
			bit = 1 << 2
			r.WindowStart, ok = s.time()
		case "windowEnd":
			bit = 1 << 3
			r.WindowEnd, ok = s.time()
		case "podUID":
			bit = 1 << 4
			r.PodUID, ok = s.string()
		case "namespace":
			bit = 1 << 5
			r.Namespace, ok = s.string()
		case "pod":
			bit = 1 << 6
			r.Pod, ok = s.string()
		case "container":
			bit = 1 << 7
			r.Container, ok = s.string()
		case "user":
			bit = 1 << 8
			r.User, ok = s.string()
		case "cpuSeconds":
			bit = 1 << 9
			r.CPUSeconds, ok = s.float()
		case "memoryByteSeconds":
			bit = 1 << 10
			r.MemoryByteSeconds, ok = s.float()
		case "memoryBytes":
			bit = 1 << 11
			r.MemoryBytes, ok = s.int()
		case "memoryPeakBytes":
			bit = 1 << 12
			r.MemoryPeakBytes, ok = s.int()
		case "networkRxBytes":
			bit = 1 << 13
			r.NetworkRxBytes, ok = s.int()
		case "networkTxBytes":
			bit = 1 << 14
			r.NetworkTxBytes, ok = s.int()
		case "runningSeconds":
			bit = 1 << 15
			r.RunningSeconds, ok = s.float()
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return ok
	})
}

// raw reads a string without escapes or control characters and returns
// its bytes, unquoted.
func (s *recordScanner) raw() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	for j := s.i; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := s.b[s.i:j]
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func (s *recordScanner) string() (string, bool) {
	v, ok := s.raw()
	if !ok {
		return "", false
	}
	str, ok := s.strs[string(v)]
	if !ok {
		str = string(v)
		s.strs[str] = str
	}
	return str, true
}

// time reads an RFC 3339 time, as time.Time's UnmarshalText takes it.
func (s *recordScanner) time() (time.Time, bool) {
	var t time.Time
	v, ok := s.raw()
	return t, ok && t.UnmarshalText(v) == nil
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *recordScanner) number() ([]byte, bool) {
	s.space()
	b, i := s.b, s.i
	digits := func() bool {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		if i++; !digits() {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false
		}
	}
	v := b[s.i:i]
	s.i = i
	return v, true
}

func (s *recordScanner) float() (float64, bool) {
	v, ok := s.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}

func (s *recordScanner) int() (int64, bool) {
	v, ok := s.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}
