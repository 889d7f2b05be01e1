// Package manifest turns request bodies, JSON or YAML, into API objects.
// Decoding is strict by default in the sense that every unknown or
// duplicate field is reported by its path; the caller decides whether that
// rejects the request (fieldValidation=Strict), warns, or is ignored.
package manifest

import (
	"bytes"
	"fmt"
	"mime"
	"strings"

	"github.com/berthpaas/berth/backend/errdefs"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// ErrMalformed: the body is not valid JSON or YAML, or does not fit the
// object's types (a string where a number belongs).
var ErrMalformed = errdefs.New(errdefs.ErrBadRequest, "malformed manifest")

// IsYAML reports whether a content type names YAML.
func IsYAML(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml" || mt == "application/apply-patch+yaml"
}

// ToJSON returns the body as JSON. YAML is recognised by its content type,
// or, with no content type, by not starting like a JSON document. A YAML
// body with duplicate keys converts, and the duplicates come back as
// strict problems.
func ToJSON(data []byte, contentType string) ([]byte, []string, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, nil, fmt.Errorf("empty body: %w", ErrMalformed)
	}
	yamlBody := IsYAML(contentType) || (contentType == "" && trimmed[0] != '{' && trimmed[0] != '[')
	if !yamlBody {
		return trimmed, nil, nil
	}
	out, err := yaml.YAMLToJSONStrict(trimmed)
	if err == nil {
		return out, nil, nil
	}
	out, lenientErr := yaml.YAMLToJSON(trimmed)
	if lenientErr != nil {
		return nil, nil, fmt.Errorf("yaml: %s: %w", strings.TrimPrefix(lenientErr.Error(), "error converting YAML to JSON: "), ErrMalformed)
	}
	return out, []string{strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")}, nil
}

// Decode fills into from a JSON or YAML body. It returns ErrMalformed
// (wrapped, with the position or field) when the body cannot be decoded,
// and otherwise the strict problems: unknown fields and duplicate fields,
// each naming the field path, e.g. `unknown field "spec.foo"`.
func Decode(data []byte, contentType string, into any) ([]string, error) {
	jsonData, problems, err := ToJSON(data, contentType)
	if err != nil {
		return nil, err
	}
	if jsonData[0] != '{' {
		return nil, fmt.Errorf("the body must be an object: %w", ErrMalformed)
	}
	strictErrs, err := sigsjson.UnmarshalStrict(jsonData, into, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", describeJSONError(err), ErrMalformed)
	}
	for _, e := range strictErrs {
		problems = append(problems, e.Error())
	}
	return problems, nil
}

func describeJSONError(err error) string {
	if ok, off := sigsjson.SyntaxErrorOffset(err); ok {
		return fmt.Sprintf("invalid JSON at byte %d: %v", off, err)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
