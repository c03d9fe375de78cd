"""Where a webhook may be delivered (docs/api.md, "Webhooks": `https` to public addresses, checked on every
attempt, after DNS). The sender resolves the URL's host once, checks every address here, and connects to the
address it checked (adapters/webhook_http.py): a name that answers a public address to the check and 127.0.0.1
to the connect (DNS rebinding) never gets a request.

An address is deliverable only when Python's `ipaddress` calls it global and it is in none of the ranges
below: that refuses loopback, RFC 1918 private, link-local (169.254.0.0/16 holds the cloud metadata
endpoint), CGNAT (100.64.0.0/10), unique-local IPv6 (fc00::/7, where AWS's IPv6 metadata endpoint
fd00:ec2::254 lives), multicast, reserved and documentation ranges. `ipaddress`'s registry changes between
patch releases (3fff::/20 and 64:ff9b:1::/48 are recent, site-local fec0::/10 is still "global" in 3.11), so
the ranges that are not global are also listed here (`_NOT_GLOBAL`) and refused on every release.

IPv6 forms that carry an IPv4 address are judged by the IPv4 address inside, as IPv4: mapped
(::ffff:a.b.c.d), translated (SIIT, ::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d, deprecated but still
routed to IPv4 where a sit tunnel is up), NAT64 (64:ff9b::/96) and 6to4 (2002::/16). Local-use NAT64
(64:ff9b:1::/48, RFC 8215) translates to whatever a network chooses, so it is refused whole, and so is
Teredo (2001::/32), whose relay reaches the IPv4 address inside. IPv4 literals are read the way the C
resolver reads them (`inet_aton`): `2130706433`, `0177.0.0.1`, `0x7f.1` and `127.1` are all 127.0.0.1.

Locally (`allow_loopback`, the local stack only) `http` and loopback addresses are allowed, nothing else.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from posthorn.errors import UndeliverableUrl, ValidationFailed

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

# Not global (IANA's special-purpose registries), whatever the running Python's `ipaddress` says; the first
# range that holds an address names it.
_NOT_GLOBAL = tuple(
    (ipaddress.ip_network(network), what)
    for network, what in (
        ("0.0.0.0/8", "a 'this network' address"),
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay address (deprecated)"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("240.0.0.0/4", "a reserved address"),  # 255.255.255.255, the broadcast address, among them
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001::/32", "a Teredo address"),
        ("2001::/23", "an IETF protocol address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("5f00::/16", "an SRv6 segment identifier"),
        ("fec0::/10", "a site-local address"),
    )
)


def ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """`host` read as `inet_aton` reads IPv4 (1 to 4 parts, each decimal, octal or hex), or None."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        text = part.lower()
        try:
            if text.startswith("0x"):
                value = int(text[2:], 16) if len(text) > 2 else 0
            elif len(text) > 1 and text.startswith("0"):
                value = int(text[1:], 8)
            else:
                value = int(text, 10) if text.isdigit() else -1
        except ValueError:
            return None
        if value < 0:
            return None
        values.append(value)
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (5 - len(values)):
        return None
    number = 0
    for value in leading:
        number = number << 8 | value
    number = number << (8 * (5 - len(values))) | last
    return ipaddress.IPv4Address(number)


def host_literal(host: str) -> IpAddress | None:
    """The address a URL host names directly (IPv4 in any inet_aton form, IPv6 in brackets), or None."""
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.IPv6Address(host[1:-1].split("%")[0])
        except ValueError:
            return None
    return ipv4_literal(host)


def embedded_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    # :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4-compatible ones.
    compatible = address in _IPV4_COMPATIBLE and int(address) > 1
    if compatible or address in _IPV4_TRANSLATED or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    return None


def refusal(address: IpAddress, *, allow_loopback: bool = False) -> str | None:
    """Why `address` may not be delivered to, or None when it may."""
    inner = embedded_ipv4(address)
    if inner is not None:
        return refusal(inner, allow_loopback=allow_loopback)
    if allow_loopback and address.is_loopback:
        return None
    for network, what in _NOT_GLOBAL:
        if address in network:
            return what
    if address.is_global and not address.is_multicast:
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if address.is_private:
        return "a private address"
    return "not a public address"


def check_url(url: str, *, allow_loopback: bool = False) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL the sender may try: `https` (locally also `http`), a host, no
    credentials in it, and no literal address that is not public. Names are resolved on every attempt."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UndeliverableUrl(f"not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_loopback else ("https",)
    if scheme not in allowed:
        raise UndeliverableUrl("must be an https URL")
    if parts.username is not None or parts.password is not None:
        raise UndeliverableUrl("must not hold a user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UndeliverableUrl("has no host")
    literal = host_literal(f"[{host}]" if ":" in host else host)
    if literal is not None:
        reason = refusal(literal, allow_loopback=allow_loopback)
        if reason:
            raise UndeliverableUrl(f"points to {reason}")
        host = str(literal) if isinstance(literal, ipaddress.IPv4Address) else f"[{literal}]"
    elif scheme == "http" and host != "localhost":
        raise UndeliverableUrl("http is allowed only to loopback (the local stack)")
    return scheme, host, port or (443 if scheme == "https" else 80)


def check_addresses(addresses: list[str], *, allow_loopback: bool = False) -> IpAddress:
    """The first address of a resolved host when every one of them is deliverable (a name with one private
    address among public ones is refused as a whole: which one a client picks is not ours to know)."""
    if not addresses:
        raise UndeliverableUrl("the host did not resolve")
    parsed = [ipaddress.ip_address(address.split("%")[0]) for address in addresses]
    for address in parsed:
        reason = refusal(address, allow_loopback=allow_loopback)
        if reason:
            raise UndeliverableUrl(f"resolves to {reason}")
    return parsed[0]


def validate_url(url: str, *, allow_loopback: bool = False) -> str:
    """The URL as a webhook stores it, or a 422 saying why it cannot be one."""
    try:
        check_url(url, allow_loopback=allow_loopback)
    except UndeliverableUrl as error:
        raise ValidationFailed.on("url", str(error)) from None
    return url
