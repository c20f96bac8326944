"""A lean Kubernetes API path for the plugins (docs/design.md): no `kubernetes` import on the
pod-start path."""
