// Command kubectl is stock kubectl, built from the k8s.io/kubectl module at
// the version pinned in this directory's go.mod: the kubectl that Berth's
// tests run (internal/testbin builds it), whatever the machine has
// installed. It is what kubernetes/cmd/kubectl/kubectl.go is, without the
// cloud providers' auth plugins.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
