"""The ``kubernetes`` client as a ``Transport`` for the Store: the GC's transport. Does I/O.

The GC is not on a pod's start path, so it may pay ``import kubernetes`` (300-500 ms,
~44 MB; docs/design.md) for the kubeconfig and in-cluster forms that package understands
(exec plugins, token refresh of a projected service-account token, client
certificates). The plugins never import this module, and it imports ``kubernetes``
only inside functions: tests/unit/test_layering.py holds both.

Only the transport of the ``kubernetes`` package is used (its configuration, auth and
urllib3 pool): bodies go and come as plain JSON dicts, as with the lean ``Client``, so
that a 10,000-pod LIST is not turned into model objects (which costs seconds), and so
that the Store and its compare-and-swap loop run unchanged over either transport.
Failures map to the same ``spidernet.k8s.errors`` classes: transport failures
(refused, reset, timeout, TLS, 5xx, 429) are retried with the same backoff as the lean
client's (``backoff.Backoff.transport``) for
``retry_for`` seconds (never past the deadline) and then raised as ``Unavailable``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

from spidernet.k8s import errors
from spidernet.k8s.backoff import Backoff, Deadline

IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
DEFAULT_KUBECONFIG = "~/.kube/config"


class ConfigError(ValueError):
    """No usable kubeconfig or context: the message names what is missing and what to do."""


class OfficialClient:
    def __init__(
        self, api_client: Any, deadline: Deadline, *, retry_for: float = 10.0, timeout: float = 30.0
    ) -> None:
        self.api = api_client
        self.deadline = deadline
        self.retry_for = retry_for
        self.timeout = timeout
        self.server = str(api_client.configuration.host)
        self.requests = 0
        self.history: list[str] = []

    @classmethod
    def connect(cls, kubeconfig: str | None, deadline: Deadline, **kw: Any) -> OfficialClient:
        """From a kubeconfig path; None: in-cluster when running in a pod, else $KUBECONFIG or
        ~/.kube/config."""
        import kubernetes  # lazily: see the module docstring

        config: Any = kubernetes.config  # its loaders are untyped
        cfg = kubernetes.client.Configuration()
        if (
            kubeconfig is None
            and os.environ.get("KUBERNETES_SERVICE_HOST")
            and os.path.exists(IN_CLUSTER_TOKEN)
        ):
            config.load_incluster_config(client_configuration=cfg)
        else:
            config.load_kube_config(
                config_file=kubeconfig, client_configuration=cfg, persist_config=False
            )
        cfg.retries = (
            False  # one attempt per call: the retry policy is ours, bounded by the deadline
        )
        return cls(kubernetes.client.ApiClient(cfg), deadline, **kw)

    @classmethod
    def connect_like_kubectl(
        cls,
        kubeconfig: str | None,
        context: str | None,
        deadline: Deadline,
        *,
        env: Mapping[str, str] = os.environ,
        **kw: Any,
    ) -> OfficialClient:
        """kubectl's rules (docs/cli.md, "Which cluster"): ``--kubeconfig``, else ``$KUBECONFIG``
        (colon-separated, merged: the first file to name an item or a current context wins),
        else ``~/.kube/config``, else in-cluster; ``--context`` picks a context of those files.
        Raises ConfigError naming what is wrong."""
        import kubernetes

        cfg = kubernetes.client.Configuration()
        files = kubeconfig_files(kubeconfig, env)
        if files:
            _load_files(cfg, files, context)
        elif env.get("KUBERNETES_SERVICE_HOST") and os.path.exists(IN_CLUSTER_TOKEN):
            if context:
                raise ConfigError(
                    f"--context {context}: in a pod without a kubeconfig there are no contexts"
                )
            loaders: Any = kubernetes.config  # untyped
            loaders.load_incluster_config(client_configuration=cfg)
        else:
            raise ConfigError(
                "no kubeconfig: none of --kubeconfig, $KUBECONFIG or ~/.kube/config names a file, "
                "and this is not a pod (set --kubeconfig PATH or KUBECONFIG)"
            )
        cfg.retries = False
        return cls(kubernetes.client.ApiClient(cfg), deadline, **kw)

    def close(self) -> None:
        self.api.close()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Any:
        """Send one request, retrying transport failures; returns the decoded body."""
        if isinstance(body, bytes):  # encoded already: the kubernetes package encodes it again
            body = json.loads(body)
        self.history.append(f"{method} {path}")
        backoff = Backoff.transport(min(self.deadline.at, time.monotonic() + self.retry_for))
        while True:
            try:
                status, data = self._once(method, path, body, content_type, accept)
                if status < 300:
                    return data
                raise errors.from_response(status, data)
            except errors.Unavailable:
                if not backoff.again():
                    raise

    def _once(
        self, method: str, path: str, body: Any, content_type: str, accept: str
    ) -> tuple[int, Any]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        headers = {"Accept": accept, "Content-Type": content_type}
        timeout = min(self.timeout, max(self.deadline.remaining(), 0.05))
        try:
            req = self.api.param_serialize(
                method, path, header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            resp = self.api.call_api(*req, _request_timeout=timeout)
            raw = resp.read()
        except ApiException as e:  # status 0: the kubernetes package's wrapping of a TLS failure
            if e.status:
                return int(e.status), _decode(e.body.encode() if isinstance(e.body, str) else b"")
            raise errors.Unavailable(0, f"{self.server}: {e.reason}") from e
        except (HTTPError, OSError) as e:
            raise errors.Unavailable(0, f"{self.server}: {type(e).__name__}: {e}") from e
        finally:
            self.requests += 1
        return int(resp.status), _decode(raw)


def kubeconfig_files(kubeconfig: str | None, env: Mapping[str, str]) -> list[str]:
    """The files kubectl would read, existing ones only; a missing ``--kubeconfig`` is an error."""
    if kubeconfig:
        if not os.path.exists(os.path.expanduser(kubeconfig)):
            raise ConfigError(f"--kubeconfig {kubeconfig}: no such file")
        return [os.path.expanduser(kubeconfig)]
    if env.get("KUBECONFIG"):
        named = [os.path.expanduser(p) for p in env["KUBECONFIG"].split(":") if p]
        found = [p for p in named if os.path.exists(p)]
        if not found:
            raise ConfigError(f"KUBECONFIG={env['KUBECONFIG']}: none of its files exists")
        return found
    default = os.path.expanduser(DEFAULT_KUBECONFIG)
    return [default] if os.path.exists(default) else []


def _load_files(cfg: Any, files: list[str], context: str | None) -> None:
    from kubernetes.config import kube_config

    module: Any = kube_config  # untyped
    try:
        merged = module.KubeConfigMerger(":".join(files))
        contexts = [c["name"] for c in merged.config.value.get("contexts") or []]
        current = context or _first_current_context(merged.config_files, files)
        if not current:
            raise ConfigError(
                f"{':'.join(files)}: no current-context set; pick one with --context "
                f"({_names(contexts)})"
            )
        if current not in contexts:
            raise ConfigError(
                f"context {current!r} does not exist in {':'.join(files)} (contexts: "
                f"{_names(contexts)})"
            )
        loader = module.KubeConfigLoader(
            config_dict=merged.config, active_context=current, config_base_path=None
        )
        loader.load_and_set(cfg)
    except ConfigError:
        raise
    except Exception as e:  # the package raises ConfigException, yaml errors, KeyError...
        raise ConfigError(f"{':'.join(files)}: {type(e).__name__}: {e}") from e


def _first_current_context(by_file: Mapping[str, Any], files: list[str]) -> str:
    """kubectl: the first file that sets a current-context wins (the package takes the last)."""
    for path in files:
        value = (by_file.get(path) or {}).get("current-context")
        if value:
            return str(value)
    return ""


def _names(items: list[str]) -> str:
    return ", ".join(items) if items else "none"


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
