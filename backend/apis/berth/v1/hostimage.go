package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// HostImage is a host image definition: an rpm-ostree treefile and the
// files it includes and names (package sources, added files, scripts).
// Cluster admins edit it; every edit is validated and kept as a revision.
type HostImage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              HostImageSpec   `json:"spec"`
	Status            HostImageStatus `json:"status,omitempty"`
}

// HostImageSpec is what a cluster admin writes.
type HostImageSpec struct {
	// Treefile is the main treefile, one of Files' paths.
	Treefile string `json:"treefile"`
	// Files are the definition's files, by path relative to its directory.
	Files []HostImageFile `json:"files"`
	// RebuildInterval is how often the definition is checked for package
	// updates ("24h"), and rebuilt when its inputs changed; empty: only
	// when it is edited or a build is asked for.
	RebuildInterval string `json:"rebuildInterval,omitempty"`
}

// HostImageFile is one file of a definition.
type HostImageFile struct {
	Path    string `json:"path"`
	Content string `json:"content"`
	// Executable files keep the mode 0755 (add-files copy their source's
	// mode).
	Executable bool `json:"executable,omitempty"`
}

// HostImageStatus is what the server reports of a definition.
type HostImageStatus struct {
	// Revision counts the definition's edits; 1 is its creation.
	Revision int64 `json:"revision"`
	// Ref is the expanded treefile's ref; Runner the runner that composes
	// it here (ostree or rpm-ostree).
	Ref    string `json:"ref,omitempty"`
	Runner string `json:"runner,omitempty"`
	// LatestBuild is the newest build; LatestCommit and LatestVersion are
	// the commit on the ref from the newest successful build.
	LatestBuild   string `json:"latestBuild,omitempty"`
	LatestPhase   string `json:"latestPhase,omitempty"`
	LatestCommit  string `json:"latestCommit,omitempty"`
	LatestVersion string `json:"latestVersion,omitempty"`
}

// HostImageList is a list of definitions.
type HostImageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HostImage `json:"items"`
}

// HostImageRevision is one edit of a definition: GET
// hostimages/NAME/revisions lists them, newest first (without their
// files unless ?revision=N asks for one).
type HostImageRevision struct {
	Revision int64           `json:"revision"`
	Author   string          `json:"author"`
	Created  metav1.Time     `json:"created"`
	Treefile string          `json:"treefile"`
	Files    []HostImageFile `json:"files,omitempty"`
}

// HostImageRevisionList answers GET hostimages/NAME/revisions.
type HostImageRevisionList struct {
	metav1.TypeMeta `json:",inline"`
	Items           []HostImageRevision `json:"items"`
}

// HostImageRender answers GET hostimages/NAME/render: the expanded
// treefile, as rpm-ostree compose tree --print-only prints it.
type HostImageRender struct {
	metav1.TypeMeta `json:",inline"`
	Revision        int64    `json:"revision"`
	Treefile        string   `json:"treefile"`
	Inputs          []string `json:"inputs"`
}

// Build phases, as a build goes through them.
const (
	BuildQueued    = "Queued"
	BuildRunning   = "Running"
	BuildSucceeded = "Succeeded"
	BuildFailed    = "Failed"
	BuildCancelled = "Cancelled"
)

// Build reasons: who asked for a build.
const (
	BuildReasonManual   = "Manual"   // a person (berth hostimage build, Rebuild)
	BuildReasonEdit     = "Edit"     // the definition changed
	BuildReasonSchedule = "Schedule" // the package sources changed
)

// HostImageBuild is one build of a definition's revision, named
// DEFINITION-NUMBER. Create one to build (spec.hostImage); the master
// runs the builds of a definition one at a time.
type HostImageBuild struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              HostImageBuildSpec   `json:"spec"`
	Status            HostImageBuildStatus `json:"status,omitempty"`
}

// HostImageBuildSpec says what to build.
type HostImageBuildSpec struct {
	HostImage string `json:"hostImage"`
	// Revision is the definition's revision built; 0 on create means the
	// latest.
	Revision int64 `json:"revision,omitempty"`
	// Force composes even when the inputs are those of the last build.
	Force bool `json:"force,omitempty"`
	// Reason is who asked: Manual, Edit or Schedule.
	Reason      string `json:"reason,omitempty"`
	RequestedBy string `json:"requestedBy,omitempty"`
}

// HostImageBuildStatus is what the build did.
type HostImageBuildStatus struct {
	Phase  string `json:"phase"`
	Number int64  `json:"number"`
	Runner string `json:"runner,omitempty"`
	// InputHash digests the build's inputs; a build whose inputs are
	// those of the last successful one composes nothing (NoChanges).
	InputHash string `json:"inputHash,omitempty"`
	NoChanges bool   `json:"noChanges,omitempty"`
	Ref       string `json:"ref,omitempty"`
	Commit    string `json:"commit,omitempty"`
	Parent    string `json:"parent,omitempty"`
	Version   string `json:"version,omitempty"`
	// PackageCount, and the sizes in bytes: the commit's objects as
	// stored (what a host pulls without a delta), its files unpacked, and
	// the static delta from the parent.
	PackageCount int   `json:"packageCount,omitempty"`
	CommitSize   int64 `json:"commitSize,omitempty"`
	UnpackedSize int64 `json:"unpackedSize,omitempty"`
	DeltaSize    int64 `json:"deltaSize,omitempty"`
	// LogSize is the length of the build's log so far.
	LogSize         int64        `json:"logSize,omitempty"`
	StartTime       *metav1.Time `json:"startTime,omitempty"`
	CompletionTime  *metav1.Time `json:"completionTime,omitempty"`
	CancelRequested bool         `json:"cancelRequested,omitempty"`
	// Message says why a build failed, or that nothing changed.
	Message string `json:"message,omitempty"`
}

// HostImageBuildList is a list of builds, newest first.
type HostImageBuildList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HostImageBuild `json:"items"`
}

// HostImageDiff answers GET hostimagebuilds/TO/diff?from=FROM: what
// changed from one build's commit to another's.
type HostImageDiff struct {
	metav1.TypeMeta `json:",inline"`
	From            HostImageDiffSide `json:"from"`
	To              HostImageDiffSide `json:"to"`
	Packages        PackageDiff       `json:"packages"`
	Files           FileDiff          `json:"files"`
}

// HostImageDiffSide is one of the two builds compared.
type HostImageDiffSide struct {
	Build        string `json:"build"`
	Commit       string `json:"commit"`
	Version      string `json:"version,omitempty"`
	PackageCount int    `json:"packageCount"`
	CommitSize   int64  `json:"commitSize"`
	DeltaSize    int64  `json:"deltaSize,omitempty"`
}

// Package is one package of a commit.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
}

// PackageChange is a package whose version changed.
type PackageChange struct {
	Name string `json:"name"`
	Arch string `json:"arch"`
	From string `json:"from"`
	To   string `json:"to"`
}

// PackageDiff lists packages added, removed and changed.
type PackageDiff struct {
	Added   []Package       `json:"added"`
	Removed []Package       `json:"removed"`
	Changed []PackageChange `json:"changed"`
}

// FileDiff lists the paths added, modified and deleted.
type FileDiff struct {
	Added    []string `json:"added"`
	Modified []string `json:"modified"`
	Deleted  []string `json:"deleted"`
}

// NodeUpgrade is the body of POST /api/v1/nodes/NAME/upgrade: upgrade the
// node to the newest build of its host image (or of HostImage).
type NodeUpgrade struct {
	metav1.TypeMeta `json:",inline"`
	// HostImage names the definition whose newest build the node gets;
	// empty: the one the node's booted commit was built from.
	HostImage string `json:"hostImage,omitempty"`
	// Force deletes the pods no replication controller recreates, as
	// kubectl drain --force does.
	Force bool `json:"force,omitempty"`
	// Target, Ref and Build are the server's answer: the commit the node
	// is upgraded to.
	Target string `json:"target,omitempty"`
	Ref    string `json:"ref,omitempty"`
	Build  string `json:"build,omitempty"`
}

var (
	_ runtime.Object = (*HostImage)(nil)
	_ runtime.Object = (*HostImageList)(nil)
	_ runtime.Object = (*HostImageRevisionList)(nil)
	_ runtime.Object = (*HostImageRender)(nil)
	_ runtime.Object = (*HostImageBuild)(nil)
	_ runtime.Object = (*HostImageBuildList)(nil)
	_ runtime.Object = (*HostImageDiff)(nil)
	_ runtime.Object = (*NodeUpgrade)(nil)
)

// DeepCopyObject copies a definition.
func (in *HostImage) DeepCopyObject() runtime.Object {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec.Files = append([]HostImageFile(nil), in.Spec.Files...)
	return &out
}

// DeepCopyObject copies a list of definitions.
func (in *HostImageList) DeepCopyObject() runtime.Object {
	out := *in
	out.Items = make([]HostImage, len(in.Items))
	for i := range in.Items {
		out.Items[i] = *in.Items[i].DeepCopyObject().(*HostImage)
	}
	return &out
}

// DeepCopyObject copies the revisions.
func (in *HostImageRevisionList) DeepCopyObject() runtime.Object {
	out := *in
	out.Items = make([]HostImageRevision, len(in.Items))
	for i, r := range in.Items {
		r.Files = append([]HostImageFile(nil), r.Files...)
		out.Items[i] = r
	}
	return &out
}

// DeepCopyObject copies a rendering.
func (in *HostImageRender) DeepCopyObject() runtime.Object {
	out := *in
	out.Inputs = append([]string(nil), in.Inputs...)
	return &out
}

// DeepCopyObject copies a build.
func (in *HostImageBuild) DeepCopyObject() runtime.Object {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if in.Status.StartTime != nil {
		out.Status.StartTime = in.Status.StartTime.DeepCopy()
	}
	if in.Status.CompletionTime != nil {
		out.Status.CompletionTime = in.Status.CompletionTime.DeepCopy()
	}
	return &out
}

// DeepCopyObject copies a list of builds.
func (in *HostImageBuildList) DeepCopyObject() runtime.Object {
	out := *in
	out.Items = make([]HostImageBuild, len(in.Items))
	for i := range in.Items {
		out.Items[i] = *in.Items[i].DeepCopyObject().(*HostImageBuild)
	}
	return &out
}

// DeepCopyObject copies a diff.
func (in *HostImageDiff) DeepCopyObject() runtime.Object {
	out := *in
	out.Packages = PackageDiff{
		Added:   append([]Package(nil), in.Packages.Added...),
		Removed: append([]Package(nil), in.Packages.Removed...),
		Changed: append([]PackageChange(nil), in.Packages.Changed...),
	}
	out.Files = FileDiff{
		Added:    append([]string(nil), in.Files.Added...),
		Modified: append([]string(nil), in.Files.Modified...),
		Deleted:  append([]string(nil), in.Files.Deleted...),
	}
	return &out
}

// DeepCopyObject copies an upgrade request.
func (in *NodeUpgrade) DeepCopyObject() runtime.Object {
	out := *in
	return &out
}
