// Package quota holds the pure rules of resource quotas and limit ranges,
// as Kubernetes' quota evaluators and LimitRanger do: what an object
// costs a project (Usage), whether a cost fits a quota (Exceeded, with
// Kubernetes' own message), and a container's defaults from a project's
// limit ranges (Default).
//
// The admission plugins (backend/admission: ResourceQuota, LimitRanger)
// and the resource quota controller (backend/controller/resourcequota)
// use them:
//
//	create ─► LimitRanger: defaults, min/max ─► ResourceQuota: Usage(obj)
//	          for each quota of the project: used+usage ≤ hard?  no ─► 403 "exceeded quota: ..."
//	                                          yes ─► status.used += usage (compare-and-swap) ─► store
//	delete, or a pod finishing ─► controller: used = Σ Usage(objects still there)
package quota
