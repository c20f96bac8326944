"""A lean Kubernetes API path for the plugins (SPEC §0): no `kubernetes` import on the pod-start path."""
