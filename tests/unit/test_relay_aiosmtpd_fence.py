"""The fence around what the relay takes from aiosmtpd beyond its documented API (smtp_relay/server.py,
`AIOSMTPD_UNDOCUMENTED`): these fail when the installed aiosmtpd is not the pinned one, when the source of
anything RelaySMTP leans on or overrides changed, or when RelaySMTP uses an undocumented member not listed.

When one fails: read aiosmtpd's new `SMTP.smtp_DATA` against `RelaySMTP.smtp_DATA` and `_read_data` (the
checks before 354, the replies, how a line is read and when DATA ends: smuggling), and each changed method
against its use in server.py; port any new DATA or smuggling test of aiosmtpd's (aiosmtpd/tests/test_smtp.py,
test_smtpsmuggling.py) to tests/integration/test_relay_data.py; run
that file and `tests/integration -k relay`;
then record the version and the hashes below (the failure prints them)."""

from __future__ import annotations

import ast
import inspect
import re
from importlib.metadata import version
from pathlib import Path

from aiosmtpd import smtp as aiosmtpd_smtp
from aiosmtpd.smtp import SMTP

from smtp_relay.server import AIOSMTPD_UNDOCUMENTED, RelaySMTP
from tests.support.fences import pins, source_hash

ROOT = Path(__file__).resolve().parents[2]

RECORDED_VERSION = "1.4.6"
# sha256 (first 16 hex digits) of `inspect.getsource(SMTP.<name>)` in the recorded version: what the members
# of AIOSMTPD_UNDOCUMENTED are (`_reader` is set by `_cb_client_connected`, its limit by `__init__`), and
# every method RelaySMTP overrides.
RECORDED_SOURCE = {
    "__init__": "8a9ca80f23ad9bf2",
    "_cb_client_connected": "a73e95bb7f362ab9",
    "_handle_client": "0e4d096403af6c74",
    "_reset_timeout": "fef19b94d28dff31",
    "check_auth_needed": "812bbc794078b1b0",
    "check_helo_needed": "9829bb73251c983e",
    "connection_made": "77a45df5065bba34",
    "push": "15f4f1de5e30c337",
    "smtp_DATA": "3a33f30d3fd6d02f",
    "smtp_STARTTLS": "6565289f4131fa13",
}
WHERE = {"_reader": ("_cb_client_connected", "__init__")}

# What RelaySMTP may use without listing it: aiosmtpd's documented API (aiosmtpd/docs/smtp.rst: `SMTP`, its
# attributes and methods, `smtp_<COMMAND>`; concepts.rst: the session and envelope) and asyncio's Protocol.
DOCUMENTED = {
    "__init__", "event_handler", "data_size_limit", "enable_SMTPUTF8", "hostname", "tls_context",
    "require_starttls", "session", "envelope", "transport", "loop", "authenticated", "line_length_limit",
    "local_part_limit", "_create_session", "_create_envelope", "push", "challenge_auth",
    "connection_made", "connection_lost", "data_received", "eof_received",
}  # fmt: skip


def _hash(name: str) -> str:
    return source_hash(getattr(SMTP, name))


def _pins() -> dict[str, str]:
    return pins("aiosmtpd", "pyproject.toml", "services/smtp_relay/requirements.txt")


def test_the_installed_aiosmtpd_is_the_pinned_and_recorded_one() -> None:
    installed = version("aiosmtpd")
    assert set(_pins().values()) == {installed} == {RECORDED_VERSION}, (
        f"aiosmtpd installed {installed}, pinned {_pins()}, recorded {RECORDED_VERSION} here: RelaySMTP "
        f"(smtp_relay/server.py) leans on aiosmtpd's undocumented members; re-check them as this module's "
        f"docstring says, then record the version"
    )


def test_the_source_relaysmtp_leans_on_is_the_recorded_one() -> None:
    current = {name: _hash(name) for name in RECORDED_SOURCE}
    changed = sorted(name for name in RECORDED_SOURCE if current[name] != RECORDED_SOURCE[name])
    assert not changed, (
        f"aiosmtpd {version('aiosmtpd')} changed SMTP.{', SMTP.'.join(changed)} under RelaySMTP "
        f"(smtp_relay/server.py): re-check as this module's docstring says, then record {current}"
    )


def test_every_undocumented_member_has_its_source_recorded() -> None:
    for name in AIOSMTPD_UNDOCUMENTED:
        assert set(WHERE.get(name, (name,))) <= set(RECORDED_SOURCE), name
    overridden = {name for name in vars(RelaySMTP) if hasattr(SMTP, name) and not name.startswith("__")}
    assert overridden <= set(RECORDED_SOURCE), "record the source of every method RelaySMTP overrides"


def _smtp_members() -> set[str]:
    """Every name aiosmtpd's SMTP has: its class's (inherited ones too) and those it sets on an instance."""
    assigned = re.findall(r"self\.(\w+)\s*(?::[^=\n]+)?=", inspect.getsource(aiosmtpd_smtp.SMTP))
    return set(dir(SMTP)) | set(assigned)


def _used_on_self(cls: type) -> set[str]:
    """The attributes a class's methods read, write or call on `self` or `super()`."""
    used = set()
    for node in ast.walk(ast.parse(inspect.getsource(cls))):
        if isinstance(node, ast.Attribute):
            owner = node.value
            if isinstance(owner, ast.Call):  # super().<name>
                owner = owner.func
            if isinstance(owner, ast.Name) and owner.id in ("self", "super"):
                used.add(node.attr)
    return used


def test_relaysmtp_uses_no_undocumented_aiosmtpd_member_that_is_not_listed() -> None:
    taken = _used_on_self(RelaySMTP) & _smtp_members()  # one of RelaySMTP's own that aiosmtpd has too counts
    commands = {name for name in taken if name.startswith("smtp_")}
    unlisted = taken - DOCUMENTED - commands - set(AIOSMTPD_UNDOCUMENTED)
    assert not unlisted, f"list in smtp_relay/server.py's AIOSMTPD_UNDOCUMENTED, saying why: {unlisted}"
    assert set(AIOSMTPD_UNDOCUMENTED) <= taken, "AIOSMTPD_UNDOCUMENTED lists one RelaySMTP no longer uses"
