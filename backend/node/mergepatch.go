package node

import (
	"encoding/json"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// mergePatch returns the JSON merge patch (RFC 7386) that turns the JSON
// form of from into that of to: changed members with their new value,
// removed ones as null, objects compared member by member and everything
// else (lists included) replaced whole.
func mergePatch(from, to any) ([]byte, error) {
	a, err := json.Marshal(from)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(to)
	if err != nil {
		return nil, err
	}
	return jsonpatch.CreateMergePatch(a, b)
}
