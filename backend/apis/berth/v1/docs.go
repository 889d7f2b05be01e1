package v1

import (
	"embed"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"sync"
)

// sources are this package's Go files: the doc comments of its types are
// the descriptions of their OpenAPI schemas, written once, where the
// types are.
//
//go:embed *.go
var sources embed.FS

var docs = sync.OnceValue(parseDocs)

// SwaggerDocs gives the descriptions of one of this package's struct
// types as SwaggerDoc() does for k8s.io/api's ("" is the type's), from
// its doc comments; nil for types of other packages.
func SwaggerDocs(t reflect.Type) map[string]string {
	if t.PkgPath() != reflect.TypeFor[Project]().PkgPath() {
		return nil
	}
	return docs()[t.Name()]
}

func parseDocs() map[string]map[string]string {
	out := map[string]map[string]string{}
	entries, _ := sources.ReadDir(".")
	fset := token.NewFileSet()
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		src, err := sources.ReadFile(e.Name())
		if err != nil {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), src, parser.ParseComments)
		if err != nil {
			continue
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.TYPE {
				continue
			}
			for _, spec := range gen.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				m := map[string]string{"": text(ts.Doc, gen.Doc)}
				for _, field := range st.Fields.List {
					d := text(field.Doc, field.Comment)
					if d == "" || len(field.Names) == 0 || field.Tag == nil {
						continue
					}
					tag := reflect.StructTag(strings.Trim(field.Tag.Value, "`"))
					if name, _, _ := strings.Cut(tag.Get("json"), ","); name != "" && name != "-" {
						m[name] = d
					}
				}
				out[ts.Name.Name] = m
			}
		}
	}
	return out
}

// text is the first of the comment groups that says something, as one
// paragraph.
func text(groups ...*ast.CommentGroup) string {
	for _, g := range groups {
		if s := strings.TrimSpace(g.Text()); s != "" {
			return strings.Join(strings.Fields(s), " ")
		}
	}
	return ""
}
