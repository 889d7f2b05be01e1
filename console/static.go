package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// contentTypes fixes the types of the console's files, whatever the
// machine's mime tables say (some map .js to application/x-javascript).
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".json":  "application/json",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
}

// static serves files with strong ETags (a hash of the content) and
// Cache-Control: no-cache, so a browser revalidates every file and gets a
// 304 while it is unchanged. URLs stay stable, as the ES modules import
// each other by relative paths.
type static struct {
	files  fs.FS
	cached bool // the files never change (embedded): keep what was read

	mu     sync.Mutex // guards assets
	assets map[string]*asset
}

type asset struct {
	data []byte
	etag string
	// gz is data gzip-compressed, for the text files it makes smaller;
	// nil for others.
	gz []byte
}

// compressible are the types worth compressing: text.
var compressible = map[string]bool{".html": true, ".js": true, ".mjs": true, ".css": true, ".svg": true, ".json": true, ".txt": true}

// gzipped compresses data once, at the best level: the console's files
// are read once and served many times.
func gzipped(data []byte) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write(data)
	if zw.Close() != nil || b.Len() >= len(data) {
		return nil
	}
	return b.Bytes()
}

// acceptsGzip says whether the request's Accept-Encoding takes gzip (and
// does not refuse it with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

func newStatic(files fs.FS, cached bool) *static {
	return &static{files: files, cached: cached, assets: make(map[string]*asset)}
}

// errNoFile: the name is not a regular file of the console.
var errNoFile = errors.New("no such file")

// load reads a file and computes its ETag.
func (s *static) load(name string) (*asset, error) {
	if s.cached {
		s.mu.Lock()
		a, ok := s.assets[name]
		s.mu.Unlock()
		if ok {
			return a, nil
		}
	}
	if !fs.ValidPath(name) || name == "." {
		return nil, errNoFile
	}
	info, err := fs.Stat(s.files, name)
	if err != nil || !info.Mode().IsRegular() {
		return nil, errNoFile
	}
	data, err := fs.ReadFile(s.files, name)
	if err != nil {
		return nil, errNoFile
	}
	sum := sha256.Sum256(data)
	a := &asset{data: data, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
	if compressible[strings.ToLower(path.Ext(name))] {
		a.gz = gzipped(data)
	}
	if s.cached {
		s.mu.Lock()
		s.assets[name] = a
		s.mu.Unlock()
	}
	return a, nil
}

func (s *static) serve(c echo.Context, name string) error {
	a, err := s.load(name)
	if err != nil {
		return c.String(http.StatusNotFound, "404 page not found\n")
	}
	h := c.Response().Header()
	ct, ok := contentTypes[strings.ToLower(path.Ext(name))]
	if !ok {
		ct = mime.TypeByExtension(path.Ext(name))
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-cache")
	body, etag := a.data, a.etag
	if a.gz != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(c.Request()) {
			// The compressed file is another representation: an ETag of
			// its own, so that caches never mix the two.
			body, etag = a.gz, strings.TrimSuffix(a.etag, `"`)+`-gzip"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	// ServeContent answers If-None-Match with 304, and HEAD and ranges.
	http.ServeContent(c.Response(), c.Request(), name, time.Time{}, bytes.NewReader(body))
	return nil
}

// serveIndex answers GET / with the page.
func (c *Console) serveIndex(ec echo.Context) error {
	return c.static.serve(ec, "index.html")
}

// serveStatic answers GET /static/{name} with a file of the console.
func (c *Console) serveStatic(ec echo.Context) error {
	name := ec.Param("*")
	if name == "" || strings.HasSuffix(name, "/") || path.Clean(name) != name {
		return ec.String(http.StatusNotFound, "404 page not found\n")
	}
	return c.static.serve(ec, name)
}
