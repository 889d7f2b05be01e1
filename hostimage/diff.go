package hostimage

import "context"

// CommitDiff is what changed from one commit to another: packages (from
// the commits' metadata) and files (ostree diff).
type CommitDiff struct {
	From     string      `json:"from"`
	To       string      `json:"to"`
	Packages PackageDiff `json:"packages"`
	Files    FileDiff    `json:"files"`
}

// CommitDiff compares two commits of the repository.
func (r *Repo) CommitDiff(ctx context.Context, from, to string) (*CommitDiff, error) {
	fromPkgs, err := r.Packages(ctx, from)
	if err != nil {
		return nil, err
	}
	toPkgs, err := r.Packages(ctx, to)
	if err != nil {
		return nil, err
	}
	files, err := r.Diff(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return &CommitDiff{From: from, To: to, Packages: DiffPackages(fromPkgs, toPkgs), Files: files}, nil
}
