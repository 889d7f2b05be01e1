package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/berthpaas/berth/backend/controller/hostimagebuild"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/hostimages"
	"github.com/berthpaas/berth/hostimage"
	ostreecompose "github.com/berthpaas/berth/ostree-compose"
)

// HostImages configures the host image builds of a master.
type HostImages struct {
	// Disabled serves no host images (the API answers 503).
	Disabled bool
	// Dir holds the OSTree repository hosts pull from, the package cache
	// and the builds' scratch space; default DataDir/hostimages. Masters
	// of one cluster share it (the leader builds, every master serves
	// the repository and compares builds' files).
	Dir string
	// Runners say how definitions are composed here (mmdebstrap for
	// deb822 sources, rpm-ostree for *.repo).
	Runners hostimage.RunnerConfig
	// GPG signs commits and the summary when its KeyID is set.
	GPG hostimage.GPG
	// Timeout bounds one build (hostimagebuild.DefaultTimeout when zero).
	Timeout time.Duration
	// BerthBinary is committed as the berth/node layer hosts run; default
	// the running program.
	BerthBinary string
	// NoSeed leaves the store empty on first start, instead of offering
	// the host definitions of ostree-compose.
	NoSeed bool
}

// hostImageDir is where the master keeps host image builds.
func hostImageDir(cfg Config) string {
	if cfg.HostImages.Dir != "" {
		return cfg.HostImages.Dir
	}
	return filepath.Join(cfg.DataDir, "hostimages")
}

// openHostImages opens the host image store, and on a fresh database
// stores the host definitions Berth ships.
func openHostImages(ctx context.Context, cfg Config, dbURL string, logger *slog.Logger) (*hostimages.Store, error) {
	if cfg.HostImages.Disabled {
		return nil, nil
	}
	if err := os.MkdirAll(hostImageDir(cfg), 0o755); err != nil {
		return nil, fmt.Errorf("host image directory: %w", err)
	}
	s, err := hostimages.Open(ctx, dbURL, logger)
	if err != nil {
		return nil, err
	}
	if !cfg.HostImages.NoSeed {
		if err := seedHostImages(ctx, s, logger); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// seedHostImages stores Berth's host definitions (ostree-compose) when
// there are no definitions at all: a fresh cluster can build its hosts at
// once, and a definition deleted later does not come back.
func seedHostImages(ctx context.Context, s *hostimages.Store, logger *slog.Logger) error {
	defs, err := s.ListDefinitions(ctx)
	if err != nil || len(defs) > 0 {
		return err
	}
	for _, main := range ostreecompose.Hosts {
		files, err := readEmbedded(ostreecompose.FS)
		if err != nil {
			return err
		}
		def, err := hostimage.LoadFiles(files, main, hostimage.LoadOptions{})
		if err != nil {
			return fmt.Errorf("ostree-compose/%s: %w", main, err)
		}
		name := strings.TrimSuffix(main, path.Ext(main))
		d := hostimages.Definition{
			Name: name, Treefile: main, Files: def.Files(), Ref: def.Treefile.Ref,
			Runner: hostimage.RunnerFor(def, hostimage.RunnerConfig{}).Name(),
		}
		if def.RepoKind == "deb" {
			// The Debian host's packages get security updates: look daily.
			d.RebuildInterval = 24 * time.Hour
		}
		if _, err := s.CreateDefinition(ctx, d, "system:berth"); err != nil && !errors.Is(err, errdefs.ErrAlreadyExists) {
			return err
		}
		logger.Info("host image definition offered", "hostimage", name, "ref", d.Ref)
	}
	return nil
}

func readEmbedded(fsys fs.FS) (hostimage.Files, error) {
	var out hostimage.Files
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out = append(out, hostimage.File{Path: p, Content: string(data)})
		return nil
	})
	return out, err
}

// builderConfig is the host image builder's configuration, nil when host
// images are off.
func builderConfig(cfg Config, store *hostimages.Store, logger *slog.Logger) *hostimagebuild.Config {
	if store == nil {
		return nil
	}
	return &hostimagebuild.Config{
		Store: store, Dir: hostImageDir(cfg), Runners: cfg.HostImages.Runners, GPG: cfg.HostImages.GPG,
		Timeout: cfg.HostImages.Timeout, BerthBinary: cfg.HostImages.BerthBinary, Logger: logger,
	}
}

// OSTreeRepoPath is where the master serves the OSTree repository, read
// only: hosts add it as a remote (ostree remote add berth URL/ostree/repo).
const OSTreeRepoPath = "/ostree/repo"

// serveOSTreeRepo serves the files of the repository that builds commit
// into, without listings, for GET and HEAD only: what `ostree pull`
// fetches (config, summary, refs, objects, deltas). Nothing outside the
// repository is reachable, through its links or its names. It needs no
// credential: hosts pull with plain ostree, and host images hold no
// secrets (a node's token is provisioned on the host).
func serveOSTreeRepo(e *echo.Echo, dir string) {
	files := http.FileServerFS(repoFS{dir: dir})
	h := http.StripPrefix(OSTreeRepoPath, files)
	serve := func(c echo.Context) error {
		r := c.Request()
		if strings.HasSuffix(r.URL.Path, "/") {
			return echo.NewHTTPError(http.StatusNotFound, "not found")
		}
		h.ServeHTTP(c.Response(), r)
		return nil
	}
	e.GET(OSTreeRepoPath+"/*", serve)
	e.HEAD(OSTreeRepoPath+"/*", serve)
}

// repoFS opens the repository's files through an os.Root, for each
// request: the repository may be created after the server starts.
type repoFS struct{ dir string }

func (f repoFS) Open(name string) (fs.File, error) {
	root, err := os.OpenRoot(f.dir)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	defer root.Close()
	file, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, err
	}
	if info.IsDir() {
		file.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist} // no listings
	}
	return file, nil
}
