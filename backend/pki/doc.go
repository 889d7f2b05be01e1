// Package pki is Berth's certificate authority code: it creates and loads
// CAs kept on disk, issues serving and client certificates, and signs the
// certificate requests of node agents. The server (the cluster CA, its
// serving and master-client certificates), the embedded etcd (a CA of its
// own) and the node agent (its key and CSR) share it.
//
// Two CAs, never mixed, as kubeadm keeps them:
//
//	cluster CA  (TLSDir: ca.crt, ca.key)
//	    ├─ master serving certificate     serverAuth     API clients, kubectl
//	    ├─ master client certificate      clientAuth     CN=berth:master: what agents require
//	    └─ node serving certificates      serverAuth     CN=system:node:NAME, the node's addresses
//	etcd CA     (DataDir/etcd-pki: ca.crt, ca.key)
//	    ├─ etcd server and peer           serverAuth+clientAuth
//	    └─ master's etcd client           clientAuth
//
// No certificate of the cluster CA opens etcd, and the cluster CA issues
// client certificates to the masters alone: a node's certificate serves, it
// authenticates to nothing.
//
// # Node certificate lifecycle
//
//	agent:  new key + CSR ─► POST /auth/node-join (bootstrap token)
//	                         POST /auth/node-rotate (its current credential)
//	master: check the CSR's signature and take its public key only; subject,
//	        names, usage and lifetime are the master's (SignCSR, NodeServing)
//	agent:  serve with it, requiring the master's client certificate
//	        (RequirePeer(MasterClientName)), until the next rotation
//	master: reach the agent requiring the cluster CA, the node's address and
//	        the pod's node's name (RequirePeer(NodeCommonName(node)))
//
// The masters' client certificate lives in memory (Renewing); masters of
// one cluster share the CA by holding the same ca.crt and ca.key.
//
// Keys are written 0600 and their directories 0700; certificates 0644.
// Files are replaced atomically (write to a temporary file, rename).
package pki
