"""Real components for tests, the demo and the benchmarks: a local control plane
(etcd + kube-apiserver), a libcni runtime driver, network-namespace pods and nodes,
and a user-mode-Linux runner. Everything here does I/O and needs root."""
