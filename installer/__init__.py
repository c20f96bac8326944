"""The installer DaemonSet (docs/install.md): puts the frozen bundles into the
host's CNI bin dir and keeps the plugins' credentials fresh, one process per node.

| module | role | I/O |
|---|---|---|
| ``__main__`` | entry: ``python -m installer [--once / --uninstall]`` | yes |
| ``service`` | the loop: passes, retry with backoff, readiness, shutdown | yes |
| ``installing`` | install / check / uninstall of the bundle set | via hostfs |
| ``credentials`` | kubeconfig, token, CA, nodename on the host | via hostfs |
| ``hostfs`` | every file-system operation, atomic by rename | yes |
| ``bundleset`` | the bundle manifest and which hosts can run it | no |
| ``layout`` | names in the bin dir, what cleanup may remove | no |
| ``kubeconfig`` | the files the plugins read, who may rewrite them | no |
| ``settings`` | settings from the environment | no |
| ``exporting``, ``tailing`` | /metrics from the outcome record, the probes' answers | yes |
| ``poolusage`` | the GC's published pool usage, for the pool gauges | yes |

Its passes use no Kubernetes API (its token is the one it hands to the plugins); beside
them, the metrics endpoint's ``poolusage`` GETs the ConfigMap the GC publishes (Role
``spidernet-node-usage``) and the admission webhook (``webhook``) reads the pools.
Standard library only, but ``exporting`` (``prometheus_client``, in the daemon alone).
"""
