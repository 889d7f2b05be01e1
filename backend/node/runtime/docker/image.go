package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/client"
)

// LabelImageHash is the label that carries the hash of a locally built
// image's inputs; an image whose label matches is not built again.
const LabelImageHash = "dev.berth.image.hash"

// ContextFile is one file of an image build context.
type ContextFile struct {
	Name string // slash-separated path in the context
	Mode int64
	// Data is the content; with Link set, the file is a symbolic link to
	// Link instead.
	Data []byte
	Link string
	// Dir makes the entry a directory.
	Dir bool
}

// BuildImage builds tag from a Dockerfile and the files of its context,
// unless an image tagged so already carries hash in LabelImageHash. The
// Dockerfile must not need a registry (FROM scratch).
func BuildImage(ctx context.Context, cli client.ImageAPIClient, tag, hash, dockerfile string, files []ContextFile) error {
	if img, err := cli.ImageInspect(ctx, tag); err == nil {
		if img.Config != nil && img.Config.Labels[LabelImageHash] == hash {
			return nil
		}
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspecting image %q: %w", tag, err)
	}
	dockerfile += fmt.Sprintf("\nLABEL %s=%q\n", LabelImageHash, hash)
	tarball, err := buildContext(append([]ContextFile{{Name: "Dockerfile", Mode: 0o644, Data: []byte(dockerfile)}}, files...))
	if err != nil {
		return fmt.Errorf("build context of %q: %w", tag, err)
	}
	resp, err := cli.ImageBuild(ctx, tarball, build.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
	})
	if err != nil {
		return fmt.Errorf("building image %q: %w", tag, err)
	}
	defer resp.Body.Close()
	if out, err := readProgress(resp.Body); err != nil {
		return fmt.Errorf("building image %q: %w\n%s", tag, err, out)
	}
	return nil
}

func buildContext(files []ContextFile) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Unix(0, 0)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: f.Mode, ModTime: now, Typeflag: tar.TypeReg, Size: int64(len(f.Data))}
		switch {
		case f.Dir:
			h.Typeflag, h.Size = tar.TypeDir, 0
			h.Name = strings.TrimSuffix(f.Name, "/") + "/"
		case f.Link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.Link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// progressMessage is one line of the JSON stream of a build or a pull.
type progressMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// readProgress reads a build or pull stream to its end; it returns the
// text it carried and the error it reported.
func readProgress(r io.Reader) (string, error) {
	var out strings.Builder
	dec := json.NewDecoder(r)
	for {
		var m progressMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out.String(), nil
		} else if err != nil {
			return out.String(), fmt.Errorf("reading the engine's progress: %w", err)
		}
		out.WriteString(m.Stream)
		if m.Status != "" {
			out.WriteString(m.Status + "\n")
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return out.String(), errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return out.String(), errors.New(m.Error)
		}
	}
}

// EnsureInfraImage builds the infra image, FROM scratch with the pause
// program for the engine's architecture (pause.go), unless it exists, and
// makes it the image of the infra containers the runtime creates from now
// on. The image is named berth-infra:<hash of the program>; it does not
// depend on the berth binary or on how that was linked.
func (r *Runtime) EnsureInfraImage(ctx context.Context) (string, error) {
	info, err := r.cli.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("infra image: engine info: %w", err)
	}
	prog, err := pauseProgram(info.Architecture)
	if err != nil {
		return "", fmt.Errorf("infra image: %w", err)
	}
	dockerfile := "FROM scratch\nCOPY pause /pause\nUSER 65532:65532\nSTOPSIGNAL SIGTERM\nENTRYPOINT [\"/pause\"]\n"
	h := sha256.New()
	h.Write(prog)
	h.Write([]byte(dockerfile))
	hash := hex.EncodeToString(h.Sum(nil))
	tag := "berth-infra:" + hash[:16]
	files := []ContextFile{{Name: "pause", Mode: 0o755, Data: prog}}
	if err := BuildImage(ctx, r.cli, tag, hash, dockerfile, files); err != nil {
		return "", fmt.Errorf("infra image: %w", err)
	}
	r.mu.Lock()
	r.infraImage = tag
	r.mu.Unlock()
	r.logger.Info("infra image ready", "image", tag)
	return tag, nil
}

func (r *Runtime) infra() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.infraImage
}
