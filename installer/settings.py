"""The installer's settings, read from its environment (the DaemonSet sets them). No I/O.

Variable, default: meaning.

- SPIDERNET_BUNDLES, /opt/spidernet/bundles: the bundle set in the image (MANIFEST.json)
- SPIDERNET_CNI_BIN_DIR, /host/opt/cni/bin: the host's CNI bin dir, as mounted
- SPIDERNET_CNI_CONF_DIR, /host/etc/cni/net.d: the host's CNI conf dir, as mounted
- SPIDERNET_TOKEN_FILE, /var/run/secrets/kubernetes.io/serviceaccount/token: token to copy
- SPIDERNET_CA_FILE, (same dir)/ca.crt: cluster CA to copy
- SPIDERNET_IPAM_CONFIG_SOURCE, /etc/spidernet/ipam/cluster-ipam.json: the ConfigMap
  spidernet-ipam's file, as mounted (absent: the defaults)
- SPIDERNET_API_SERVER, https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT: server
  for the plugins
- NODE_NAME, (required): this node, from the downward API
- POD_UID, hostname-pid: this installer's identity for credential ownership
- SPIDERNET_POLL_SECONDS, 5: how often the token and the install are checked
- SPIDERNET_RETIRED_GRACE_SECONDS, 300: a replaced version stays at least this long
- SPIDERNET_BACKOFF_MAX_SECONDS, 60: the retry delay after failures grows up to this
- SPIDERNET_READY_FILE, /run/spidernet/installer-ready: exists while installed and
  credentials are fresh
- SPIDERNET_SMOKE_TEST, true: run each staged plugin's VERSION before going live
- SPIDERNET_UNINSTALL_ON_EXIT, false: on SIGTERM remove what this installer installed
- SPIDERNET_METRICS_ADDRESS, :5719: where /metrics, /healthz and /readyz are served
  (host:port, an empty host for every address; ``off`` serves nothing)
- SPIDERNET_OUTCOMES, /host/run/spidernet/metrics/outcomes.jsonl: the plugins' outcome
  record as mounted (spidernet/protocol/outcomes.py)
- SPIDERNET_POOL_USAGE_SECONDS, 30: the GC's published pool usage is read at most this
  often for the pool gauges (0: never, no API request at all)
- SPIDERNET_HANDOVER_SECONDS, 30: on SIGTERM, how long the installer waits for a successor
  to take the node's credentials over before it exits (its pod, and so the node's token,
  lives while it waits; under the pod's terminationGracePeriodSeconds)
- SPIDERNET_REQUIRE_RUNTIME_PLUGINS, true: refuse to install into a CNI bin dir that holds
  no other CNI plugin (the runtime does not look there: a distribution with other paths)

The API server and node name are read leniently here (the bundles can be installed
without them); the credentials step refuses when they are missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    bundles: str = "/opt/spidernet/bundles"
    cni_bin_dir: str = "/host/opt/cni/bin"
    cni_conf_dir: str = "/host/etc/cni/net.d"
    token_file: str = f"{SA_DIR}/token"
    ca_file: str = f"{SA_DIR}/ca.crt"
    ipam_config: str = "/etc/spidernet/ipam/cluster-ipam.json"
    api_server: str = ""
    service_host: str = ""
    service_port: str = ""
    node_name: str = ""
    identity: str = ""
    poll_seconds: float = 5.0
    retired_grace_seconds: float = 300.0
    backoff_max_seconds: float = 60.0
    ready_file: str = "/run/spidernet/installer-ready"
    smoke_test: bool = True
    uninstall_on_exit: bool = False
    metrics_host: str = ""
    metrics_port: int | None = 5719  # None: not served
    outcomes_file: str = "/host/run/spidernet/metrics/outcomes.jsonl"
    # The admission webhook (installer/webhook.py): off (0) unless the manifest sets a port.
    webhook_port: int = 0
    webhook_cert_dir: str = "/etc/spidernet/webhook-tls"
    webhook_namespace: str = "kube-system"  # where the claims ledger ConfigMap lives
    pool_usage_seconds: float = 30.0
    require_runtime_plugins: bool = True
    handover_seconds: float = 30.0

    @property
    def stall_seconds(self) -> float:
        """No pass ended for this long: the service loop is stuck (the liveness probe fails)."""
        return max(60.0, 3 * self.poll_seconds, 2 * self.backoff_max_seconds)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number of seconds") from None
    if value < 0:
        raise SettingsError(f"{name}={raw!r} is negative")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not true or false")


def _address(env: Mapping[str, str]) -> tuple[str, int | None]:
    raw = env.get("SPIDERNET_METRICS_ADDRESS", "").strip()
    if not raw:
        return "", Settings.metrics_port
    if raw == "off":
        return "", None
    host, sep, port = raw.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise SettingsError(f"SPIDERNET_METRICS_ADDRESS={raw!r} is not host:port, :port or off")
    return host.strip("[]"), int(port)


def from_env(env: Mapping[str, str], *, fallback_identity: str) -> Settings:
    """``fallback_identity`` names this process when POD_UID is not set (hostname-pid)."""
    d = Settings()
    metrics_host, metrics_port = _address(env)
    return Settings(
        bundles=env.get("SPIDERNET_BUNDLES") or d.bundles,
        cni_bin_dir=env.get("SPIDERNET_CNI_BIN_DIR") or d.cni_bin_dir,
        cni_conf_dir=env.get("SPIDERNET_CNI_CONF_DIR") or d.cni_conf_dir,
        token_file=env.get("SPIDERNET_TOKEN_FILE") or d.token_file,
        ca_file=env.get("SPIDERNET_CA_FILE") or d.ca_file,
        ipam_config=env.get("SPIDERNET_IPAM_CONFIG_SOURCE") or d.ipam_config,
        api_server=env.get("SPIDERNET_API_SERVER", "").rstrip("/"),
        service_host=env.get("KUBERNETES_SERVICE_HOST", ""),
        service_port=env.get("KUBERNETES_SERVICE_PORT", ""),
        node_name=env.get("NODE_NAME", ""),
        identity=env.get("POD_UID") or fallback_identity,
        poll_seconds=_seconds(env, "SPIDERNET_POLL_SECONDS", d.poll_seconds),
        retired_grace_seconds=_seconds(
            env, "SPIDERNET_RETIRED_GRACE_SECONDS", d.retired_grace_seconds
        ),
        backoff_max_seconds=_seconds(env, "SPIDERNET_BACKOFF_MAX_SECONDS", d.backoff_max_seconds),
        ready_file=env.get("SPIDERNET_READY_FILE") or d.ready_file,
        smoke_test=_flag(env, "SPIDERNET_SMOKE_TEST", d.smoke_test),
        uninstall_on_exit=_flag(env, "SPIDERNET_UNINSTALL_ON_EXIT", d.uninstall_on_exit),
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        outcomes_file=env.get("SPIDERNET_OUTCOMES") or d.outcomes_file,
        webhook_port=_port(env, "SPIDERNET_WEBHOOK_PORT", d.webhook_port),
        webhook_cert_dir=env.get("SPIDERNET_WEBHOOK_CERT_DIR") or d.webhook_cert_dir,
        webhook_namespace=env.get("POD_NAMESPACE") or d.webhook_namespace,
        pool_usage_seconds=_seconds(env, "SPIDERNET_POOL_USAGE_SECONDS", d.pool_usage_seconds),
        require_runtime_plugins=_flag(
            env, "SPIDERNET_REQUIRE_RUNTIME_PLUGINS", d.require_runtime_plugins
        ),
        handover_seconds=_seconds(env, "SPIDERNET_HANDOVER_SECONDS", d.handover_seconds),
    )


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > 65535:
        raise SettingsError(f"{name}={raw!r} is not a port number (0 turns the webhook off)")
    return int(raw)
