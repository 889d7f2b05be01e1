package node

import (
	"encoding/json"
	"reflect"
)

// mergePatch returns the JSON merge patch (RFC 7386) that turns the JSON
// form of from into that of to: changed members with their new value,
// removed ones as null, objects compared member by member and everything
// else (lists included) replaced whole.
func mergePatch(from, to any) ([]byte, error) {
	a, err := toJSONValue(from)
	if err != nil {
		return nil, err
	}
	b, err := toJSONValue(to)
	if err != nil {
		return nil, err
	}
	return json.Marshal(diffValue(a, b))
}

func toJSONValue(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(data, &out)
	return out, err
}

func diffValue(a, b any) any {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		return b
	}
	patch := map[string]any{}
	for k, av := range am {
		bv, ok := bm[k]
		switch {
		case !ok:
			patch[k] = nil
		case !reflect.DeepEqual(av, bv):
			patch[k] = diffValue(av, bv)
		}
	}
	for k, bv := range bm {
		if _, ok := am[k]; !ok {
			patch[k] = bv
		}
	}
	return patch
}
