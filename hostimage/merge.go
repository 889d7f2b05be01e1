package hostimage

// merge folds an included layer (src) into the including one (dest) with
// rpm-ostree's rules (treefile_merge): a scalar the including file sets
// wins; lists are the included file's items followed by the including
// file's; maps take the included file's entries, overridden by the
// including file's.
func merge(dest, src *Treefile) {
	str := func(d *string, s string) {
		if *d == "" {
			*d = s
		}
	}
	boolean := func(d **bool, s *bool) {
		if *d == nil {
			*d = s
		}
	}
	list := func(d *[]string, s []string) {
		if s != nil {
			*d = append(append([]string(nil), s...), *d...)
		}
	}
	mapping := func(d *map[string]any, s map[string]any) {
		if s == nil {
			return
		}
		out := make(map[string]any, len(s)+len(*d))
		for k, v := range s {
			out[k] = v
		}
		for k, v := range *d {
			out[k] = v
		}
		*d = out
	}
	str(&dest.Ref, src.Ref)
	str(&dest.Basearch, src.Basearch)
	str(&dest.Releasever, src.Releasever)
	str(&dest.GPGKey, src.GPGKey)
	str(&dest.BootLocation, src.BootLocation)
	str(&dest.DefaultTarget, src.DefaultTarget)
	str(&dest.AutomaticVersionPrefix, src.AutomaticVersionPrefix)
	str(&dest.MutateOsRelease, src.MutateOsRelease)
	if dest.PostprocessScript == "" {
		dest.PostprocessScript, dest.postprocessScriptPath = src.PostprocessScript, src.postprocessScriptPath
	}

	boolean(&dest.Selinux, src.Selinux)
	boolean(&dest.Container, src.Container)
	boolean(&dest.Recommends, src.Recommends)
	boolean(&dest.Documentation, src.Documentation)
	boolean(&dest.TmpIsDir, src.TmpIsDir)
	boolean(&dest.MachineidCompat, src.MachineidCompat)
	boolean(&dest.PreservePasswd, src.PreservePasswd)
	boolean(&dest.ReadonlyExecutable, src.ReadonlyExecutable)

	list(&dest.Repos, src.Repos)
	list(&dest.LockfileRepos, src.LockfileRepos)
	list(&dest.Packages, src.Packages)
	list(&dest.ExcludePackages, src.ExcludePackages)
	list(&dest.OstreeLayers, src.OstreeLayers)
	list(&dest.OstreeOverrideLayers, src.OstreeOverrideLayers)
	list(&dest.InstallLangs, src.InstallLangs)
	list(&dest.InitramfsArgs, src.InitramfsArgs)
	list(&dest.Units, src.Units)
	list(&dest.EtcGroupMembers, src.EtcGroupMembers)
	list(&dest.IgnoreRemovedUsers, src.IgnoreRemovedUsers)
	list(&dest.IgnoreRemovedGroups, src.IgnoreRemovedGroups)
	list(&dest.Postprocess, src.Postprocess)
	list(&dest.RemoveFiles, src.RemoveFiles)
	if src.AddFiles != nil {
		dest.AddFiles = append(append([]AddFile(nil), src.AddFiles...), dest.AddFiles...)
	}
	if src.RemoveFromPackages != nil {
		dest.RemoveFromPackages = append(append([][]string(nil), src.RemoveFromPackages...), dest.RemoveFromPackages...)
	}

	mapping(&dest.AddCommitMetadata, src.AddCommitMetadata)
	if dest.Metadata == nil {
		dest.Metadata = src.Metadata
	}
	if dest.CheckPasswd == nil {
		dest.CheckPasswd = src.CheckPasswd
	}
	if dest.CheckGroups == nil {
		dest.CheckGroups = src.CheckGroups
	}
}
