package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/client"
)

// Upgrader stages a host image's commit on this host and reboots into it:
// the agent's half of berth node upgrade (controller/nodeupgrade is the
// master's).
type Upgrader interface {
	// Stage pulls the commit from the master's repository and deploys it
	// for the next boot. It returns an error of class ErrUnsupported on a
	// host that is not an OSTree host.
	Stage(ctx context.Context, u Upgrade) error
	// Reboot restarts the host into the staged deployment.
	Reboot(ctx context.Context) error
}

// Upgrade is what to stage.
type Upgrade struct {
	// RepoURL is the master's OSTree repository (MASTER/ostree/repo).
	RepoURL string
	// CAFile signs the master's certificate ("" trusts the system's).
	CAFile string
	Ref    string
	Target string
	// OSName is the stateroot the host booted ("osname" of its booted
	// deployment).
	OSName string
}

// errNotOSTree: the host did not boot from an OSTree deployment.
var errNotOSTree = errdefs.New(errdefs.ErrUnsupported, "this host is not an OSTree host (no /run/ostree-booted): Berth cannot upgrade it; upgrade it as its operating system is upgraded")

// remoteName is the OSTree remote that names the master's repository.
const remoteName = "berth"

// OSTreeUpgrader stages commits with rpm-ostree where it is installed
// (rpm-ostree rebase), else with the ostree command (pull, then admin
// deploy with the origin berth:REF), and reboots with systemctl.
type OSTreeUpgrader struct {
	// Sysroot is the physical root whose deployments are managed, as
	// ostree's --sysroot: "" is the booted host's, which must have booted
	// from OSTree. Another one (a host's disk mounted elsewhere, a test's
	// directory) is deployed to with the ostree command.
	Sysroot string
}

var _ Upgrader = OSTreeUpgrader{}

func runCommand(ctx context.Context, name string, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Stage: see Upgrader.
func (o OSTreeUpgrader) Stage(ctx context.Context, u Upgrade) error {
	var sysroot, repo []string
	if o.Sysroot == "" {
		if _, err := os.Stat(ostreeBootedPath); err != nil {
			return errNotOSTree
		}
	} else {
		sysroot = []string{"--sysroot=" + o.Sysroot}
		repo = []string{"--repo=" + filepath.Join(o.Sysroot, "ostree", "repo")}
	}
	add := append([]string{"remote", "add", "--force", "--no-gpg-verify"}, sysroot...)
	if u.CAFile != "" {
		add = append(add, "--set=tls-ca-path="+u.CAFile)
	}
	if err := runCommand(ctx, "ostree", append(add, remoteName, u.RepoURL)...); err != nil {
		return err
	}
	if _, err := exec.LookPath("rpm-ostree"); err == nil && o.Sysroot == "" {
		return runCommand(ctx, "rpm-ostree", "rebase", remoteName+":"+u.Ref, u.Target)
	}
	if err := runCommand(ctx, "ostree", append(append([]string{"pull"}, repo...), remoteName, u.Ref)...); err != nil {
		return err
	}
	// The ref may have moved past the target since the upgrade was asked
	// for: deploy the target itself, with berth:REF as its origin so that
	// later upgrades follow the ref.
	origin, err := os.CreateTemp("", "berth-origin-")
	if err != nil {
		return err
	}
	defer os.Remove(origin.Name())
	if _, err := fmt.Fprintf(origin, "[origin]\nrefspec=%s:%s\n", remoteName, u.Ref); err != nil {
		origin.Close()
		return err
	}
	origin.Close()
	args := append([]string{"admin", "deploy", "--origin-file=" + origin.Name()}, sysroot...)
	if u.OSName != "" {
		args = append(args, "--os="+u.OSName)
	}
	return runCommand(ctx, "ostree", append(args, u.Target)...)
}

// Reboot: see Upgrader.
func (OSTreeUpgrader) Reboot(ctx context.Context) error {
	return runCommand(ctx, "systemctl", "reboot")
}

// upgradeCheckInterval is how often, at least, the agent reads its Node
// for an upgrade to stage (an upgrade waits that long at most; hollow
// nodes by the hundred read no more often than this).
const upgradeCheckInterval = 10 * time.Second

// ostreeBootedPath exists on hosts booted from an OSTree deployment.
const ostreeBootedPath = "/run/ostree-booted"

// watchUpgrades looks at the node's upgrade now and then: when the
// master has drained it (Staging), the agent stages the commit, records
// Rebooting and reboots; a failure is recorded as Failed with its reason.
func (a *Agent) watchUpgrades(ctx context.Context) {
	ticker := time.NewTicker(max(a.cfg.HeartbeatInterval, upgradeCheckInterval))
	defer ticker.Stop()
	log := a.log.With("runner", "upgrade")
	attempted := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		var node v1.Node
		if err := a.call(ctx, func(api *client.Client) error { return api.Get(ctx, client.Nodes, "", a.cfg.Name, &node) }); err != nil {
			continue
		}
		raw := node.Annotations[berthv1.AnnotationUpgrade]
		var st berthv1.NodeUpgradeState
		if raw == "" || json.Unmarshal([]byte(raw), &st) != nil || st.Phase != berthv1.UpgradeStaging || st.Target == attempted {
			continue
		}
		attempted = st.Target
		log.Info("staging the host image's commit", "build", st.Build, "ref", st.Ref, "commit", st.Target)
		osname, _, _ := strings.Cut(node.Annotations[berthv1.AnnotationBootedDeployment], " ")
		up := Upgrade{RepoURL: strings.TrimRight(a.cfg.Master, "/") + "/ostree/repo", CAFile: a.caFile(), Ref: st.Ref, Target: st.Target, OSName: osname}
		stageCtx, cancel := context.WithTimeout(ctx, 25*time.Minute)
		err := a.cfg.Upgrader.Stage(stageCtx, up)
		cancel()
		if err != nil {
			log.Warn("cannot stage the commit", "error", err)
			st.Phase, st.Message = berthv1.UpgradeFailed, "the node could not stage the commit: "+err.Error()
			a.recordUpgrade(ctx, st)
			continue
		}
		st.Phase, st.Message = berthv1.UpgradeRebooting, "staged; the node reboots into it"
		if err := a.recordUpgrade(ctx, st); err != nil {
			log.Warn("cannot record the staged commit; rebooting anyway", "error", err)
		}
		log.Info("rebooting into the new commit", "commit", st.Target)
		a.notify("STATUS=rebooting into " + st.Build)
		if err := a.cfg.Upgrader.Reboot(ctx); err != nil {
			st.Phase, st.Message = berthv1.UpgradeFailed, "the commit is staged but the node could not reboot: "+err.Error()
			a.recordUpgrade(ctx, st)
		}
	}
}

// caFile is the CA file the agent trusts the master with, absolute (the
// ostree remote is read from another directory).
func (a *Agent) caFile() string {
	if a.cfg.CAFile == "" {
		return ""
	}
	abs, err := filepath.Abs(a.cfg.CAFile)
	if err != nil {
		return a.cfg.CAFile
	}
	return abs
}

// recordUpgrade writes the upgrade's new state on the node.
func (a *Agent) recordUpgrade(ctx context.Context, st berthv1.NodeUpgradeState) error {
	st.Since = metav1.Now()
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{berthv1.AnnotationUpgrade: string(data)}}})
	if err != nil {
		return err
	}
	err = a.call(ctx, func(api *client.Client) error {
		return api.Patch(ctx, client.Nodes, "", a.cfg.Name, client.MergePatch, patch, nil)
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
