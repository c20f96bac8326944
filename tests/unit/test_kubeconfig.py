"""The lean kubeconfig reader understands the forms our installer and kubectl write.

Cases: JSON with token + CA file; YAML with tokenFile and relative paths (resolved
against the kubeconfig's directory); client certificate as files and as -data;
certificate-authority-data; insecure-skip-tls-verify; a single context without
current-context; errors: no server, missing context.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from spidernet.k8s import kubeconfig


def write(path: Path, cluster: dict[str, object], user: dict[str, object], current: str = "c") -> Path:
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "k", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }  # fmt: skip
    path.write_text(json.dumps(cfg))
    return path


def test_json_token_and_ca_file_are_read(tmp_path: Path) -> None:
    p = write(tmp_path / "kc", {"server": "https://10.0.0.1:6443/", "certificate-authority": "/etc/ca.crt"}, {"token": "t0k"})
    creds = kubeconfig.load(str(p))
    assert (creds.server, creds.token, creds.ca_file, creds.insecure) == ("https://10.0.0.1:6443", "t0k", "/etc/ca.crt", False)


def test_yaml_with_token_file_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    (tmp_path / "kc").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters:\n- name: k\n  cluster:\n    server: https://api:443\n    certificate-authority: ca.crt\n"
        "users:\n- name: u\n  user:\n    tokenFile: token\n"
        "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
    )
    creds = kubeconfig.load(str(tmp_path / "kc"))
    assert creds.token == "from-file"
    assert creds.ca_file == str(tmp_path / "ca.crt")


def test_client_certificate_files_and_data(tmp_path: Path) -> None:
    files = kubeconfig.load(str(write(tmp_path / "a", {"server": "https://s"}, {"client-certificate": "c.crt", "client-key": "c.key"})))
    assert (files.cert_file, files.key_file) == (str(tmp_path / "c.crt"), str(tmp_path / "c.key"))
    data = {"client-certificate-data": base64.b64encode(b"CERT").decode(), "client-key-data": base64.b64encode(b"KEY").decode()}
    inline = kubeconfig.load(str(write(tmp_path / "b", {"server": "https://s"}, data)))
    assert (inline.cert_data, inline.key_data) == (b"CERT", b"KEY")


def test_ca_data_and_insecure(tmp_path: Path) -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    creds = kubeconfig.load(str(write(tmp_path / "kc", {"server": "https://s", "certificate-authority-data": ca,
                                                         "insecure-skip-tls-verify": True}, {})))  # fmt: skip
    assert creds.ca_data.startswith("-----BEGIN") and creds.insecure


def test_single_context_without_current_context(tmp_path: Path) -> None:
    assert kubeconfig.load(str(write(tmp_path / "kc", {"server": "https://s"}, {}, current=""))).server == "https://s"


@pytest.mark.parametrize(("cluster", "current", "needle"), [({}, "c", "no server"), ({"server": "https://s"}, "zz", "context 'zz'")])
def test_broken_kubeconfigs_are_refused_with_the_reason(tmp_path: Path, cluster: dict[str, object], current: str, needle: str) -> None:
    with pytest.raises(kubeconfig.KubeconfigError, match=needle):
        kubeconfig.load(str(write(tmp_path / "kc", cluster, {}, current=current)))
