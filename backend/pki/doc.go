// Package pki is Berth's certificate authority code: it creates and loads
// CAs kept on disk, issues serving and client certificates, and signs the
// certificate requests of node agents: the server (the cluster CA and its
// serving certificate) and the embedded etcd (a CA of its own) share it.
//
// Two CAs, never mixed, as kubeadm keeps them:
//
//	cluster CA  (TLSDir: ca.crt, ca.key)
//	    └─ master serving certificate     serverAuth     API clients, kubectl
//	etcd CA     (DataDir/etcd-pki: ca.crt, ca.key)
//	    ├─ etcd server and peer           serverAuth+clientAuth
//	    └─ master's etcd client           clientAuth
//
// No certificate of the cluster CA opens etcd.
//
// Keys are written 0600 and their directories 0700; certificates 0644.
// Files are replaced atomically (write to a temporary file, rename).
package pki
