"""The lean kubeconfig reader understands the forms our installer and kubectl write.

Cases: JSON with token + CA file; YAML with tokenFile and relative paths (resolved
against the kubeconfig's directory); client certificate as files and as -data;
certificate-authority-data; insecure-skip-tls-verify; a single context without
current-context; errors: no server, missing context; and every malformed file is a
KubeconfigError naming the file: YAML or JSON that does not parse, nesting
too deep for either parser, not UTF-8, not a mapping, a section or field of the wrong
type, base64 that does not decode; a kubeconfig or token file that is a FIFO is refused
at once (files.Unusable), never waited on.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from spidernet.k8s import kubeconfig
from spidernet.protocol import files


def write(
    path: Path, cluster: dict[str, object], user: dict[str, object], current: str = "c"
) -> Path:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "clusters": [{"name": "k", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }
    path.write_text(json.dumps(cfg))
    return path


def test_json_token_and_ca_file_are_read(tmp_path: Path) -> None:
    p = write(
        tmp_path / "kc",
        {"server": "https://10.0.0.1:6443/", "certificate-authority": "/etc/ca.crt"},
        {"token": "t0k"},
    )
    creds = kubeconfig.load(str(p))
    assert (creds.server, creds.token, creds.ca_file, creds.insecure) == (
        "https://10.0.0.1:6443",
        "t0k",
        "/etc/ca.crt",
        False,
    )


def test_yaml_with_token_file_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    (tmp_path / "kc").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters:\n- name: k\n  cluster:\n    server: https://api:443\n    "
        "certificate-authority: ca.crt\n"
        "users:\n- name: u\n  user:\n    tokenFile: token\n"
        "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
    )
    creds = kubeconfig.load(str(tmp_path / "kc"))
    assert creds.token == "from-file"
    assert creds.ca_file == str(tmp_path / "ca.crt")


def test_client_certificate_files_and_data(tmp_path: Path) -> None:
    files = kubeconfig.load(
        str(
            write(
                tmp_path / "a",
                {"server": "https://s"},
                {"client-certificate": "c.crt", "client-key": "c.key"},
            )
        )
    )
    assert (files.cert_file, files.key_file) == (str(tmp_path / "c.crt"), str(tmp_path / "c.key"))
    data = {
        "client-certificate-data": base64.b64encode(b"CERT").decode(),
        "client-key-data": base64.b64encode(b"KEY").decode(),
    }
    inline = kubeconfig.load(str(write(tmp_path / "b", {"server": "https://s"}, data)))
    assert (inline.cert_data, inline.key_data) == (b"CERT", b"KEY")


def test_ca_data_and_insecure(tmp_path: Path) -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    creds = kubeconfig.load(
        str(
            write(
                tmp_path / "kc",
                {
                    "server": "https://s",
                    "certificate-authority-data": ca,
                    "insecure-skip-tls-verify": True,
                },
                {},
            )
        )
    )
    assert creds.ca_data.startswith("-----BEGIN") and creds.insecure


def test_single_context_without_current_context(tmp_path: Path) -> None:
    assert (
        kubeconfig.load(str(write(tmp_path / "kc", {"server": "https://s"}, {}, current=""))).server
        == "https://s"
    )


@pytest.mark.parametrize(
    ("cluster", "current", "needle"),
    [({}, "c", "no server"), ({"server": "https://s"}, "zz", "context 'zz'")],
)
def test_broken_kubeconfigs_are_refused_with_the_reason(
    tmp_path: Path, cluster: dict[str, object], current: str, needle: str
) -> None:
    with pytest.raises(kubeconfig.KubeconfigError, match=needle):
        kubeconfig.load(str(write(tmp_path / "kc", cluster, {}, current=current)))


# Each of these used to escape as a TypeError, AttributeError or a yaml error
# (code 999 from the IPAM); every one must be a KubeconfigError, which the IPAM answers
# with code 7 naming ipam.kubeconfig.
BROKEN_TEXTS = {
    "yaml that does not parse": "clusters: [\n  - name: k\n  cluster: {server: https://s\n",
    "yaml with a tab indent": "apiVersion: v1\nclusters:\n\t- name: k\n",
    "json that does not parse": '{"clusters": [',
    "json nested too deeply": "{" + '"a":[' * 50000 + "]" * 50000 + "}",
    "yaml nested too deeply": "a: " + "[" * 5000 + "]" * 5000 + "\n",
    "a list, not a mapping": "- a\n- b\n",
    "a bare string": "just words\n",
    "clusters is a string": (
        'current-context: c\nclusters: "k"\ncontexts: [{name: c, context: {cluster: k}}]\n'
    ),
    "contexts is a number": "current-context: c\ncontexts: 7\n",
    "context is a list": "current-context: c\ncontexts: [{name: c, context: [1]}]\n",
    "server is a number": "current-context: c\nclusters: [{name: k, cluster: {server: 443}}]\n"
    "contexts: [{name: c, context: {cluster: k}}]\n",
    "token is a mapping": "current-context: c\nclusters: [{name: k, cluster: {server: 'https://s'}}]\n"
    "users: [{name: u, user: {token: {a: 1}}}]\n"
    "contexts: [{name: c, context: {cluster: k, user: u}}]\n",
    "ca data not base64": "current-context: c\nclusters: [{name: k, cluster: {server: 'https://s', "
    "certificate-authority-data: '%%%'}}]\ncontexts: [{name: c, context: {cluster: k}}]\n",
    "current-context is a list": "current-context: [c]\n",
}


@pytest.mark.parametrize("text", list(BROKEN_TEXTS.values()), ids=list(BROKEN_TEXTS))
def test_every_malformed_kubeconfig_is_a_kubeconfig_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "kc").write_text(text)
    with pytest.raises(kubeconfig.KubeconfigError, match=str(tmp_path / "kc")):
        kubeconfig.load(str(tmp_path / "kc"))


def test_a_kubeconfig_that_is_not_utf8_is_a_kubeconfig_error(tmp_path: Path) -> None:
    (tmp_path / "kc").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(kubeconfig.KubeconfigError, match="not UTF-8"):
        kubeconfig.load(str(tmp_path / "kc"))


@pytest.mark.parametrize("which", ["kubeconfig", "tokenFile"])
def test_a_kubeconfig_or_token_file_that_is_a_fifo_is_refused_at_once(
    tmp_path: Path, which: str
) -> None:
    """Nobody writes the FIFO: opening it to read would block the exec for good."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    kc = tmp_path / "kc"
    if which == "kubeconfig":
        kc = fifo
    else:
        write(kc, {"server": "https://s"}, {"tokenFile": str(fifo)})
    with pytest.raises(files.Unusable) as e:
        kubeconfig.load(str(kc))
    assert str(e.value) == f"{fifo}: is a FIFO, not a regular file"
