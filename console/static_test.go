package console

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/labstack/echo/v4"
)

var testFiles = fstest.MapFS{
	"index.html":       {Data: []byte(`<!doctype html><link rel="stylesheet" href="/static/css/app.css"><script type="module" src="/static/js/app.js"></script>`)},
	"css/app.css":      {Data: []byte("body { margin: 0 }\n")},
	"js/app.js":        {Data: []byte("import './watch.js';\n")},
	"js/watch.js":      {Data: []byte("export const x = 1;\n")},
	"img/logo.svg":     {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
	"js/pages/home.js": {Data: []byte("export default 1;\n")},
	"js/big.js":        {Data: []byte(strings.Repeat("export const answer = () => 42; // compresses well\n", 200))},
}

// newTestConsole serves a console over the fake API.
func newTestConsole(t *testing.T, cfg Config) (*Console, *httptest.Server) {
	t.Helper()
	if cfg.API == nil {
		cfg.API = newFakeAPI()
	}
	if cfg.Files == nil {
		cfg.Files = testFiles
	}
	c := New(cfg)
	e := echo.New()
	c.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		c.Shutdown()
		srv.Close()
	})
	return c, srv
}

type response struct {
	code   int
	header http.Header
	body   string
}

func get(t *testing.T, url string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(body)}
}

var securityHeaderValues = map[string]string{
	"Content-Security-Policy":    contentSecurityPolicy,
	"X-Content-Type-Options":     "nosniff",
	"Referrer-Policy":            "no-referrer",
	"X-Frame-Options":            "DENY",
	"Cross-Origin-Opener-Policy": "same-origin",
}

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	for k, want := range securityHeaderValues {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestStaticFiles(t *testing.T) {
	_, srv := newTestConsole(t, Config{})
	tests := []struct {
		name, path  string
		code        int
		contentType string
		body        string
	}{
		{"index", "/", http.StatusOK, "text/html; charset=utf-8", string(testFiles["index.html"].Data)},
		{"script", "/static/js/app.js", http.StatusOK, "text/javascript; charset=utf-8", "import './watch.js';\n"},
		{"nested module", "/static/js/pages/home.js", http.StatusOK, "text/javascript; charset=utf-8", "export default 1;\n"},
		{"style", "/static/css/app.css", http.StatusOK, "text/css; charset=utf-8", "body { margin: 0 }\n"},
		{"svg", "/static/img/logo.svg", http.StatusOK, "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"/>`},
		{"index under static", "/static/index.html", http.StatusOK, "text/html; charset=utf-8", string(testFiles["index.html"].Data)},
		{"unknown file", "/static/js/nope.js", http.StatusNotFound, "", ""},
		{"directory", "/static/js", http.StatusNotFound, "", ""},
		{"directory slash", "/static/js/", http.StatusNotFound, "", ""},
		{"static root", "/static/", http.StatusNotFound, "", ""},
		{"dot dot", "/static/js/../css/app.css", http.StatusNotFound, "", ""},
		{"escaped dot dot", "/static/%2e%2e/index.html", http.StatusNotFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A raw request: the client would clean "..".
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = tt.path
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code {
				t.Fatalf("GET %s: %d %s, want %d", tt.path, resp.StatusCode, body, tt.code)
			}
			checkSecurityHeaders(t, resp.Header)
			if tt.code != http.StatusOK {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", got)
			}
			if string(body) != tt.body {
				t.Errorf("body = %q, want %q", body, tt.body)
			}
		})
	}
}

func TestStaticETag(t *testing.T) {
	_, srv := newTestConsole(t, Config{})
	first := get(t, srv.URL+"/static/js/app.js")
	etag := first.header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag = %q, want a strong content hash", etag)
	}
	other := get(t, srv.URL+"/static/js/watch.js")
	if other.header.Get("ETag") == etag {
		t.Fatalf("two files with different content share ETag %q", etag)
	}
	tests := []struct {
		name, ifNoneMatch string
		code              int
	}{
		{"same", etag, http.StatusNotModified},
		{"weak form", "W/" + etag, http.StatusNotModified},
		{"in a list", `"other", ` + etag, http.StatusNotModified},
		{"star", "*", http.StatusNotModified},
		{"stale", `"stale"`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, srv.URL+"/static/js/app.js", "If-None-Match", tt.ifNoneMatch)
			if r.code != tt.code {
				t.Fatalf("If-None-Match %s: %d, want %d", tt.ifNoneMatch, r.code, tt.code)
			}
			if tt.code == http.StatusNotModified && r.body != "" {
				t.Errorf("304 with a body: %q", r.body)
			}
			if got := r.header.Get("ETag"); got != etag {
				t.Errorf("ETag = %q, want %q", got, etag)
			}
			checkSecurityHeaders(t, r.header)
		})
	}
	if r := get(t, srv.URL+"/", "If-None-Match", get(t, srv.URL+"/").header.Get("ETag")); r.code != http.StatusNotModified {
		t.Errorf("GET / revalidated: %d, want 304", r.code)
	}
}

func TestStaticHead(t *testing.T) {
	_, srv := newTestConsole(t, Config{})
	resp, err := http.Head(srv.URL + "/static/css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
		t.Fatalf("HEAD: %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
}

func TestDevDirServesEdits(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", "<p>one</p>")
	write("js/app.js", "export const v = 1;\n")
	_, srv := newTestConsole(t, Config{DevDir: dir})

	before := get(t, srv.URL+"/static/js/app.js")
	if before.code != http.StatusOK || before.body != "export const v = 1;\n" {
		t.Fatalf("before the edit: %d %q", before.code, before.body)
	}
	write("js/app.js", "export const v = 2;\n")
	after := get(t, srv.URL+"/static/js/app.js", "If-None-Match", before.header.Get("ETag"))
	if after.code != http.StatusOK || after.body != "export const v = 2;\n" {
		t.Fatalf("after the edit, revalidating with the old ETag: %d %q, want the new file", after.code, after.body)
	}
	if after.header.Get("ETag") == before.header.Get("ETag") {
		t.Error("the ETag did not change with the file")
	}
	if r := get(t, srv.URL+"/static/js/app.js", "If-None-Match", after.header.Get("ETag")); r.code != http.StatusNotModified {
		t.Errorf("unchanged file: %d, want 304", r.code)
	}
	write("js/new.js", "export {};\n")
	if r := get(t, srv.URL+"/static/js/new.js"); r.code != http.StatusOK {
		t.Errorf("a file added while serving: %d, want 200", r.code)
	}
	if r := get(t, srv.URL+"/"); r.body != "<p>one</p>" {
		t.Errorf("GET / = %q, want the index.html of the directory", r.body)
	}
}

func TestDefaultFilesAreTheFrontend(t *testing.T) {
	c := New(Config{API: newFakeAPI()})
	e := echo.New()
	c.Register(e)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<html") {
		t.Fatalf("GET / from frontend.FS: %d %.200s", rec.Code, rec.Body.String())
	}
	if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
}

// The console's text files cross the wire compressed to browsers that
// take gzip, as a representation of their own (ETag, Vary); others get
// them as they are.
func TestStaticGzip(t *testing.T) {
	_, srv := newTestConsole(t, Config{})
	plain := get(t, srv.URL+"/static/js/big.js", "Accept-Encoding", "identity")
	tests := []struct {
		name, acceptEncoding string
		gzipped              bool
	}{
		{"gzip", "gzip", true},
		{"among others", "br;q=1.0, gzip;q=0.8, *;q=0.1", true},
		{"refused", "gzip;q=0", false},
		{"identity", "identity", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, srv.URL+"/static/js/big.js", "Accept-Encoding", tt.acceptEncoding)
			if r.code != http.StatusOK || r.header.Get("Vary") != "Accept-Encoding" {
				t.Fatalf("%d, Vary %q", r.code, r.header.Get("Vary"))
			}
			if got := r.header.Get("Content-Encoding") == "gzip"; got != tt.gzipped {
				t.Fatalf("Content-Encoding %q, want gzip: %v", r.header.Get("Content-Encoding"), tt.gzipped)
			}
			if !tt.gzipped {
				return
			}
			zr, err := gzip.NewReader(strings.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(zr)
			if err != nil || string(body) != plain.body {
				t.Fatalf("gunzipped body differs from the file (%v)", err)
			}
			if len(r.body) >= len(plain.body)/2 || r.header.Get("ETag") == plain.header.Get("ETag") {
				t.Errorf("gzip: %d bytes of %d, ETag %q (plain %q)", len(r.body), len(plain.body), r.header.Get("ETag"), plain.header.Get("ETag"))
			}
			again := get(t, srv.URL+"/static/js/big.js", "Accept-Encoding", tt.acceptEncoding, "If-None-Match", r.header.Get("ETag"))
			if again.code != http.StatusNotModified {
				t.Errorf("revalidation of the gzip form: %d", again.code)
			}
		})
	}
}
