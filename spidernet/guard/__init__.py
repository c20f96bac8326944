"""Pool guardrails: the admission webhook and its TLS (docs/ipam.md, "Admission").

    ledger       pools admitted but perhaps not stored yet: what serialises overlap checks (pure)
    admission    an AdmissionReview in, the verdict and patch out (pure; rules: validation)
    reviewing    one review against the API server: the pools, the ledger, compare-and-swap
    certs        the webhook's CA and serving certificate (openssl)
    provisioning the TLS Secret and the webhook configurations' caBundle, kept by the GC

The webhook is served by the installer DaemonSet (installer/webhook.py): it is already on
every node, so no new controller runs for it.
"""
