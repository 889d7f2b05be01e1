package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthpaas/berth/backend/controller/hostimagebuild"
	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/hostimage"
)

// hostImageFlags configure a master's host image builds.
type hostImageFlags struct {
	disabled               bool
	dir                    string
	mmdebstrapMode         string
	mmdebstrapVariant      string
	gpgKey, gpgHome        string
	timeout                time.Duration
	berthBinary, rpmOstree string
}

func (f *hostImageFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.disabled, "no-hostimages", false, "serve no host images and build none")
	fl.StringVar(&f.dir, "hostimage-dir", "", "directory of the OSTree repository hosts pull from, the package cache and the builds' scratch space; masters of one cluster share it (default: DATA_DIR/hostimages)")
	fl.StringVar(&f.mmdebstrapMode, "hostimage-mmdebstrap-mode", "auto", "mmdebstrap's --mode for definitions with deb822 sources: auto, root, unshare, or chrootless")
	fl.StringVar(&f.mmdebstrapVariant, "hostimage-mmdebstrap-variant", "essential", "mmdebstrap's --variant: essential (the Essential set and the packages), custom (only the packages), minbase, ...")
	fl.StringVar(&f.gpgKey, "hostimage-gpg-key", "", "GPG key ID that signs commits and the repository's summary (default: none)")
	fl.StringVar(&f.gpgHome, "hostimage-gpg-homedir", "", "GPG home directory holding --hostimage-gpg-key")
	fl.DurationVar(&f.timeout, "hostimage-build-timeout", hostimagebuild.DefaultTimeout, "longest a build may run before it is stopped")
	fl.StringVar(&f.berthBinary, "hostimage-berth-binary", "", "the berth binary hosts get as /usr/bin/berth (the berth/node layer; default: this program)")
	fl.StringVar(&f.rpmOstree, "rpm-ostree", "rpm-ostree", "the rpm-ostree program that composes definitions with *.repo repositories")
}

func (f *hostImageFlags) config() (server.HostImages, error) {
	if f.timeout < time.Minute {
		return server.HostImages{}, fmt.Errorf("--hostimage-build-timeout %v: at least a minute", f.timeout)
	}
	switch f.mmdebstrapMode {
	case "auto", "root", "unshare", "fakeroot", "fakechroot", "chrootless", "sudo", "proot":
	default:
		return server.HostImages{}, fmt.Errorf("--hostimage-mmdebstrap-mode %q: want auto, root, unshare or chrootless", f.mmdebstrapMode)
	}
	dir := f.dir
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return server.HostImages{}, err
		}
		dir = abs
	}
	return server.HostImages{
		Disabled: f.disabled, Dir: dir, Timeout: f.timeout, BerthBinary: f.berthBinary,
		GPG: hostimage.GPG{KeyID: f.gpgKey, HomeDir: f.gpgHome},
		Runners: hostimage.RunnerConfig{
			Root:      hostimage.Mmdebstrap{Mode: f.mmdebstrapMode, Variant: f.mmdebstrapVariant},
			RpmOstree: hostimage.RpmOstreeRunner{Command: f.rpmOstree},
		},
	}, nil
}
