"""``python -m installer``: the installer DaemonSet's entry point. Does I/O.

    python -m installer              run until SIGTERM (the DaemonSet's container), serving
                                     /metrics, /healthz, /readyz (installer/exporting.py)
                                     and the pools' admission webhook (installer/webhook.py)
    python -m installer --once       one pass; exit 0 when installed and credentials written
    python -m installer --uninstall  remove the bundles and credentials this installer manages

Settings come from the environment (installer/settings.py); logs go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from installer import credentials, installing, kubeconfig, service, settings, webhook
from spidernet.guard import reviewing


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m installer")
    ap.add_argument("--once", action="store_true", help="one pass, then exit")
    ap.add_argument(
        "--uninstall", action="store_true", help="remove what the installer manages, then exit"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        conf = settings.from_env(
            os.environ, fallback_identity=f"{os.uname().nodename}-{os.getpid()}"
        )
    except settings.SettingsError as e:
        logging.error("bad setting: %s", e)
        return 2
    if args.uninstall:
        installing.uninstall(conf, None)
        credentials.Renewer(conf).remove()
        return 0
    svc = service.Service(conf)
    if args.once:
        return 0 if svc.run_pass() else 1
    if conf.metrics_port is not None and not _serve(conf, svc):
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    hook = _webhook(conf)
    try:
        svc.run(stop)
    finally:
        if hook is not None:
            hook.stop()
    return 0


def _serve(conf: settings.Settings, svc: service.Service) -> bool:
    """The metrics and probe endpoint (installer/exporting.py); False when it cannot listen."""
    # prometheus_client: only the daemon needs it
    from installer import exporting, poolusage

    reader = poolusage.Reader(conf, every=conf.pool_usage_seconds)
    usage = reader.current if conf.pool_usage_seconds > 0 else poolusage.nothing
    exporter = exporting.Exporter(conf.outcomes_file, svc.alive, svc.ready, usage)
    try:
        exporting.serve(exporter, conf.metrics_host, conf.metrics_port or 0)
    except OSError as e:
        logging.error(
            "cannot serve metrics and probes on %s:%s: %s; set SPIDERNET_METRICS_ADDRESS to a "
            "free port (and the probes' port with it) or to off",
            conf.metrics_host or "*",
            conf.metrics_port,
            e,
        )
        return False
    return True


def _webhook(conf: settings.Settings) -> webhook.Webhook | None:
    """The admission webhook in a thread of this process (docs/install.md), unless port 0."""
    if not conf.webhook_port:
        return None
    try:
        server = conf.api_server or kubeconfig.server_url(conf.service_host, conf.service_port)
        connect = webhook.in_cluster(conf.token_file, conf.ca_file, server)
        where = reviewing.Ledger(namespace=conf.webhook_namespace)
        try:  # both families where the node has IPv6, IPv4 alone where it has not
            hook = webhook.Webhook(
                conf.webhook_port, conf.webhook_cert_dir, connect, bind="::", where=where
            )
        except OSError:
            hook = webhook.Webhook(conf.webhook_port, conf.webhook_cert_dir, connect, where=where)
    except (kubeconfig.CredentialError, OSError) as e:
        logging.error("admission webhook not started: %s", e)
        return None
    hook.start()
    return hook


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
