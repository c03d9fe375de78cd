"""Where webhooks may go: public addresses over https only, in every spelling an address can take."""

from __future__ import annotations

import ipaddress

import pytest

from posthorn.errors import UndeliverableUrl, ValidationFailed
from posthorn.logic.webhooks.addresses import (
    check_addresses,
    check_url,
    ipv4_literal,
    refusal,
    validate_url,
)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("169.254.169.254", "169.254.169.254"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("10.0.1", "10.0.0.1"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_ipv4_literals_read_as_inet_aton_reads_them(text: str, address: str) -> None:
    assert ipv4_literal(text) == ipaddress.IPv4Address(address)


@pytest.mark.parametrize(
    "text", ["hooks.example.com", "256.0.0.1", "1.2.3.4.5", "0x", "08.0.0.1", "4294967296"]
)
def test_names_and_impossible_numbers_are_not_ipv4_literals(text: str) -> None:
    assert ipv4_literal(text) is None or text == "0x"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address under test, not a bind
        "224.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "ff02::1",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("::127.0.0.1", "loopback"),  # IPv4-compatible (::/96)
        ("::169.254.169.254", "link-local"),
        ("::10.0.0.1", "private"),
        ("::ffff:0:127.0.0.1", "loopback"),  # IPv4-translated (SIIT, ::ffff:0:0:0/96)
        ("::ffff:0:169.254.169.254", "link-local"),
        ("64:ff9b:1::a9fe:a9fe", "local-use NAT64"),  # RFC 8215: whatever the network translates it to
        ("64:ff9b:1::808:808", "local-use NAT64"),
        ("64:ff9b::c612:1", "benchmarking"),  # NAT64 to 198.18.0.1
        ("2002:c000:201::", "documentation"),  # 6to4 of 192.0.2.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
        ("100::1", "discard-only"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("5f00::1", "SRv6"),
        ("fec0::1", "site-local"),
        ("2001:2::1", "IETF protocol"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.254", "benchmarking"),
        ("0.1.2.3", "this network"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.0.9", "IETF protocol"),
        ("192.0.2.1", "documentation"),
        ("192.88.99.1", "6to4 relay"),
    ],
)
def test_ipv6_forms_carrying_ipv4_and_ranges_that_are_not_global_are_refused(address: str, said: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert said in reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "::8.8.8.8",  # IPv4-compatible: judged as 8.8.8.8
        "::ffff:0:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_loopback_is_allowed_only_when_the_local_stack_says_so() -> None:
    assert refusal(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert refusal(ipaddress.ip_address("::1"), allow_loopback=True) is None
    assert refusal(ipaddress.ip_address("10.0.0.1"), allow_loopback=True) is not None
    assert refusal(ipaddress.ip_address("169.254.169.254"), allow_loopback=True) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://2130706433/x",
        "https://0177.0.0.1/x",
        "https://[::1]/x",
        "https://[::ffff:7f00:1]/x",
        "https://[::127.0.0.1]/x",
        "https://[::169.254.169.254]/latest/meta-data",
        "https://[64:ff9b:1::a9fe:a9fe]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://user:pw@hooks.example.com/x",
        "https:///x",
        "https://hooks.example.com:99999/x",
    ],
)
def test_urls_that_are_not_https_to_public_are_refused(url: str) -> None:
    with pytest.raises(UndeliverableUrl):
        check_url(url)


def test_https_to_a_name_is_accepted_for_resolving_later() -> None:
    assert check_url("https://Hooks.Example.com/posthorn?x=1") == ("https", "hooks.example.com", 443)


def test_locally_http_to_loopback_is_accepted_and_http_elsewhere_is_not() -> None:
    assert check_url("http://127.0.0.1:8080/h", allow_loopback=True) == ("http", "127.0.0.1", 8080)
    assert check_url("http://localhost:8080/h", allow_loopback=True)[1] == "localhost"
    with pytest.raises(UndeliverableUrl):
        check_url("http://hooks.example.com/h", allow_loopback=True)


def test_a_name_resolving_to_any_internal_address_is_refused_as_a_whole() -> None:
    with pytest.raises(UndeliverableUrl, match="loopback"):
        check_addresses(["8.8.8.8", "127.0.0.1"])
    with pytest.raises(UndeliverableUrl, match="did not resolve"):
        check_addresses([])
    assert check_addresses(["8.8.8.8", "2606:4700:4700::1111"]) == ipaddress.ip_address("8.8.8.8")
    with pytest.raises(UndeliverableUrl, match="link-local"):
        check_addresses(["2606:4700:4700::1111", "::a9fe:a9fe"])


def test_saving_an_internal_url_is_a_422_on_the_url_field() -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate_url("https://10.0.0.7/hook")
    assert refused.value.details == [{"field": "url", "message": "points to a private address"}]
