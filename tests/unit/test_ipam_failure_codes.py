"""The spiderpool plugin's one translation point: each IPAM failure and API error becomes
the CNI code docs/ipam.md lists, with the message the IPAM wrote.

| raised                                  | verb          | code                             |
|-----------------------------------------|---------------|----------------------------------|
| BadInput(field, problem)                | any           | 7, ``field`` in msg and details  |
| BadArgs / PodUnknown                    | any           | 4 / 3                            |
| Exhausted / Refused / AllocationMissing | ADD, CHECK    | 100 / 101 / 102                  |
| NotReady                                | STATUS        | 50                               |
| Contended, Unfinished, API unreachable, | ADD, DEL, GC  | 11                               |
| budget spent                            |               |                                  |
| the same                                | STATUS        | 50                               |
| API refused credentials / other API     | any           | 999 naming the API               |
| NotFound (no verb lets it out)          | any           | 999 with its message             |
| a node directory that is no directory   | any           | 7 naming the cluster config key  |
"""

from __future__ import annotations

import pytest

from spidernet.alloc import failures as f
from spidernet.ipam import cluster, config, plugin
from spidernet.k8s import errors as kerr
from spidernet.protocol import errors, files
from spidernet.types import netconf


def ipam() -> config.IpamConf:
    raw = {"cniVersion": "1.0.0", "name": "net", "type": "macvlan", "ipam": {"type": "spiderpool"}}
    return config.parse(netconf.parse(raw, "1.0.0"), cluster.ClusterConf())


def translated(failure: BaseException, verb: str = "ADD") -> errors.CniError:
    def fail() -> None:
        raise failure

    with pytest.raises(errors.CniError) as e:
        plugin._translated(plugin._Connection(ipam()), fail, verb)
    assert e.value.__cause__ is failure
    return e.value


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (f.BadArgs("CNI_ARGS must carry K8S_POD_NAMESPACE and K8S_POD_NAME"), 4),
        (f.PodUnknown("pod a/b not found"), 3),
        (f.Exhausted("no IPv4 address: all candidate pools are exhausted", {"p": "full"}), 100),
        (f.Refused("no pool for this pod"), 101),
        (f.AllocationMissing("pool p no longer records 10.0.0.2"), 102),
        (f.NotReady("no free address in the candidate pools ['p']"), 50),
        (f.Contended("pool p: still conflicting after 9 retries, budget spent"), 11),
        (f.Unfinished("GC left 1 attachment(s): x"), 11),
    ],
)
def test_each_ipam_failure_keeps_its_message_under_its_documented_code(
    failure: f.IpamFailure, code: int
) -> None:
    got = translated(failure)
    assert (got.code, got.msg) == (code, str(failure))


def test_bad_input_is_code_7_naming_the_field() -> None:
    got = translated(f.BadInput("pod annotation ipam.spidernet.io/ippool", "not valid JSON"))
    assert got.code == 7
    assert got.msg == "invalid config: pod annotation ipam.spidernet.io/ippool: not valid JSON"
    assert got.details == "field: pod annotation ipam.spidernet.io/ippool"


@pytest.mark.parametrize(
    "failure",
    [
        f.Contended("pool p: node lock not acquired before the deadline"),
        kerr.Unavailable(0, "connection refused"),
        kerr.BudgetSpent(0, "time budget spent"),
    ],
)
def test_try_again_is_11_except_for_status_which_says_not_ready(failure: Exception) -> None:
    assert translated(failure, "DEL").code == 11
    assert translated(failure, "STATUS").code == 50


def test_api_errors_name_the_api() -> None:
    assert "Kubernetes API server unreachable" in translated(kerr.Unavailable(0, "refused")).msg
    budget = translated(kerr.BudgetSpent(0, "time budget spent"))
    assert "allocation_timeout / release_timeout" in budget.msg
    denied = translated(kerr.Denied(403, "forbidden"))
    assert (denied.code, "refused the request (RBAC)" in denied.msg) == (999, True)
    other = translated(kerr.Invalid(422, "bad"))
    assert (other.code, other.msg.startswith("Kubernetes API server error")) == (999, True)


def test_a_failure_no_verb_lets_out_is_999_with_its_message() -> None:
    got = translated(f.NotFound("SpiderIPPool", "p"))
    assert (got.code, got.msg) == (999, "SpiderIPPool p not found")


def test_a_lock_dir_that_is_not_a_directory_is_code_7_naming_the_cluster_key() -> None:
    conf = ipam()
    got = translated(files.Unusable(f"{conf.lock_dir}/p.lock", "is a directory"))
    assert got.code == 7
    assert got.details.endswith(".lock_dir")
