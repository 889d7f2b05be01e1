package quota

import (
	"fmt"
	"sort"

	v1 "k8s.io/api/core/v1"
)

// ApplyLimitRanges gives the pod's containers the defaults of the
// project's limit ranges (type Container: defaultRequest for requests,
// default for limits) where they set none, as Kubernetes' LimitRanger
// does, then checks each container against min, max and
// maxLimitRequestRatio. It returns Kubernetes' messages for what is out
// of range.
func ApplyLimitRanges(pod *v1.Pod, ranges []v1.LimitRange) []string {
	var problems []string
	for _, lr := range ranges {
		for _, item := range lr.Spec.Limits {
			if item.Type != v1.LimitTypeContainer {
				continue
			}
			for i := range pod.Spec.Containers {
				c := &pod.Spec.Containers[i]
				defaults(c, item)
				problems = append(problems, check(c, item)...)
			}
			for i := range pod.Spec.InitContainers {
				c := &pod.Spec.InitContainers[i]
				defaults(c, item)
				problems = append(problems, check(c, item)...)
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func defaults(c *v1.Container, item v1.LimitRangeItem) {
	for name, q := range item.Default {
		if _, ok := c.Resources.Limits[name]; !ok {
			if c.Resources.Limits == nil {
				c.Resources.Limits = v1.ResourceList{}
			}
			c.Resources.Limits[name] = q
		}
	}
	for name, q := range item.DefaultRequest {
		if _, ok := c.Resources.Requests[name]; !ok {
			if c.Resources.Requests == nil {
				c.Resources.Requests = v1.ResourceList{}
			}
			c.Resources.Requests[name] = q
		}
	}
	// A container with a limit and no request asks for its limit, as
	// Kubernetes' defaulting does.
	for name, q := range c.Resources.Limits {
		if _, ok := c.Resources.Requests[name]; !ok {
			if c.Resources.Requests == nil {
				c.Resources.Requests = v1.ResourceList{}
			}
			c.Resources.Requests[name] = q
		}
	}
}

func check(c *v1.Container, item v1.LimitRangeItem) []string {
	var problems []string
	for name, min := range item.Min {
		if req, ok := c.Resources.Requests[name]; !ok {
			problems = append(problems, fmt.Sprintf("minimum %s usage per Container is %s.  No request is specified", name, min.String()))
		} else if req.Cmp(min) < 0 {
			problems = append(problems, fmt.Sprintf("minimum %s usage per Container is %s, but request is %s", name, min.String(), req.String()))
		}
	}
	for name, max := range item.Max {
		if lim, ok := c.Resources.Limits[name]; !ok {
			problems = append(problems, fmt.Sprintf("maximum %s usage per Container is %s.  No limit is specified", name, max.String()))
		} else if lim.Cmp(max) > 0 {
			problems = append(problems, fmt.Sprintf("maximum %s usage per Container is %s, but limit is %s", name, max.String(), lim.String()))
		}
	}
	for name, ratio := range item.MaxLimitRequestRatio {
		lim, okL := c.Resources.Limits[name]
		req, okR := c.Resources.Requests[name]
		if !okL || !okR || req.IsZero() {
			continue
		}
		if float64(lim.MilliValue())/float64(req.MilliValue()) > float64(ratio.MilliValue())/1000 {
			problems = append(problems, fmt.Sprintf("%s max limit to request ratio per Container is %s, but provided ratio is %.6f",
				name, ratio.String(), float64(lim.MilliValue())/float64(req.MilliValue())))
		}
	}
	return problems
}
