"""The relay's SMTP conversation: aiosmtpd's hooks, each returning its reply line (docs/api.md, "SMTP relay").

Every store call (credentials, domains, suppressions, the record, the queue) runs on the relay's threads,
never on the event loop, so a slow round trip stalls one transaction, not every connection. Logs carry the
session's peer, the credential's username and message ids: never a secret or a message's content.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
from base64 import b64decode
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from posthorn.errors import PosthornError, Unauthorized, ValidationFailed
from posthorn.logic.accounts.credentials import require, smtp_login
from posthorn.logic.sending.steps import check_sender
from posthorn.logic.submission.intake import IntakeContext, accept_client_message, check_recipient
from posthorn.models.addresses import domain_of
from posthorn.models.credentials import Credential, Permission
from posthorn.models.email import MAX_RECIPIENTS
from smtp_relay.lookups import RecentDomains, RecentSuppressions, SessionLogin, StoredCredentials
from smtp_relay.protection import AuthThrottle, ConnectionGate
from smtp_relay.replies import AUTH_UNAVAILABLE, TRANSIENT, one_line, smtp_reply

log = logging.getLogger("smtp_relay")
Result = TypeVar("Result")

AUTH_OK = "235 2.7.0 Authentication successful"
TOO_MANY_FAILURES = "421 4.7.0 Too many failed authentication attempts; closing the connection"
ADDRESS_BLOCKED = "421 4.7.0 Too many failed authentication attempts from your address; try again later"
CREDENTIAL_BUSY = "454 4.7.0 Too many connections for this credential; try again later"


def client_address(session: Session) -> str:
    """The client's address: from the PROXY protocol header behind the load balancer, else the peer."""
    proxied = getattr(session.proxy_data, "src_addr", None) if session.proxy_data else None
    if proxied:
        return str(proxied[0] if isinstance(proxied, tuple) else proxied)
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) else str(peer)


class RelayHandler:
    def __init__(
        self,
        *,
        credentials: StoredCredentials,
        domains: RecentDomains,
        suppressions: RecentSuppressions,
        intake: Callable[[], IntakeContext],
        threads: Executor,
        gate: ConnectionGate,
        throttle: AuthThrottle,
        max_auth_failures: int,
    ) -> None:
        self.credentials = credentials
        self.domains = domains
        self.suppressions = suppressions
        self.intake = intake
        self.threads = threads
        self.gate = gate
        self.throttle = throttle
        self.max_auth_failures = max_auth_failures

    async def _off_loop(self, call: Callable[[], Result]) -> Result:
        return await asyncio.get_running_loop().run_in_executor(self.threads, call)

    # --- the load balancer's PROXY protocol header, then EHLO ---------------------------------------------
    async def handle_PROXY(self, server: SMTP, session: Session, envelope: Envelope, proxy: Any) -> bool:
        """A valid header from the load balancer: `session.proxy_data` now names the real client."""
        return True

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    # --- AUTH PLAIN and LOGIN (the handler's own, so that the credential lookup leaves the event loop) --
    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        assert isinstance(blob, bytes)
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await server.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        return await self._authenticate(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            login = await server.challenge_auth(SMTP.AuthLoginUsernameChallenge)
        else:
            try:
                login = b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        if login is MISSING:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth(SMTP.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        assert isinstance(login, bytes)
        assert isinstance(password, bytes)
        return await self._authenticate(server, login, password)

    async def _authenticate(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        session = server.session
        assert session is not None
        address = client_address(session)
        try:
            username, secret = smtp_login(login.decode("utf-8"), password.decode("utf-8"))
            credential, session_login = await self._off_loop(
                lambda: self.credentials.verify(username, secret)
            )
            require(credential, Permission.SEND)
        except UnicodeDecodeError:
            return await self._failed(server, Unauthorized("unknown credential or wrong secret"))
        except PosthornError as refused:
            return await self._failed(server, refused)
        except Exception:  # the credential store is unreachable: a temporary failure, nothing decided
            log.warning("credential store unavailable during AUTH", extra={"peer": address}, exc_info=True)
            await server.push(AUTH_UNAVAILABLE)
            return AuthResult(success=False, handled=True)
        if not self.gate.join(credential.username):
            await server.push(CREDENTIAL_BUSY)
            return AuthResult(success=False, handled=True)
        session.login = session_login  # type: ignore[attr-defined]
        # The transaction's line names the username; a session's AUTH is a step of it.
        log.debug("authenticated", extra={"peer": address, "username": credential.username})
        return AuthResult(success=True, auth_data=credential, message=AUTH_OK)

    async def _failed(self, server: SMTP, refused: PosthornError) -> AuthResult:
        """Failures are throttled per client address, successes never are: behind one NAT, a client with a
        wrong secret must not lock out every other tenant there. A failure from an address already over
        its limit closes the connection."""
        session = server.session
        assert session is not None
        address = client_address(session)
        blocked = self.throttle.blocked(address)
        self.throttle.failed(address)
        failures = getattr(session, "auth_failures", 0) + 1
        session.auth_failures = failures  # type: ignore[attr-defined]
        log.info("authentication refused", extra={"peer": address, "reason": refused.code})
        if blocked:
            await self._close(server, ADDRESS_BLOCKED)
        elif failures >= self.max_auth_failures:
            await server.push(smtp_reply(refused))
            await self._close(server, TOO_MANY_FAILURES)
        else:
            await server.push(smtp_reply(refused))
        return AuthResult(success=False, handled=True)

    @staticmethod
    async def _close(server: SMTP, reply: str) -> None:
        await server.push(reply)
        if server.transport is not None:
            server.transport.close()

    # --- the transaction --------------------------------------------------------------------------------
    async def _current(self, session: Session) -> Credential | str:
        """The session's credential as it stands now (a read at most `cache_seconds` old), or, when it may no
        longer send, the `421 4.7.0` reply that says why (the server closes the connection after a 421)."""
        login: SessionLogin = session.login  # type: ignore[attr-defined]
        try:
            credential = self.credentials.answer_from_memory(login)  # in memory: no thread hop
            if credential is None:
                credential = await self._off_loop(lambda: self.credentials.current(login))
        except PosthornError as refused:
            reply = f"421 4.7.0 {refused.code}: {one_line(refused.message)}; closing the connection"
            return log_transaction(session, reply, refused.code)
        return credential

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        try:
            credential = await self._current(session)
            if isinstance(credential, str):
                return credential  # a 421: the connection closes
            if self.domains.known(domain_of(address)):  # in memory: no thread hop
                check_sender(credential, address, self.domains)
            else:
                await self._off_loop(lambda: check_sender(credential, address, self.domains))
        except PosthornError as refused:
            return log_transaction(session, smtp_reply(refused), refused.code)
        except Exception:
            log.warning("credential or domain lookup failed at MAIL", exc_info=True)
            return log_transaction(session, TRANSIENT, "store_unavailable")
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        credential = _credential(session)
        if any(address.lower() == known.lower() for known in envelope.rcpt_tos):
            return "250 2.1.5 Recipient OK"  # named twice: sent to once
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return f"452 4.5.3 validation_error: too many recipients: at most {MAX_RECIPIENTS} per message"
        try:
            check_recipient(address)
        except ValidationFailed:
            return f"553 5.1.3 validation_error: <{address}> is not an address Posthorn can send to"
        domain = domain_of(envelope.mail_from or "")
        try:
            found = self.suppressions.answer_from_memory(domain, address)
            if found is None:
                found = await self._off_loop(lambda: self.suppressions.suppressed(domain, address))
        except Exception:
            log.warning("suppression lookup failed at RCPT", exc_info=True)
            return TRANSIENT
        if found:
            return f"550 5.1.1 <{address}> is on the suppression list of {domain}: not sent to"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        log.debug("recipient accepted", extra={"username": credential.username})
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        rcpt_to = list(envelope.rcpt_tos)
        try:
            credential = await self._current(session)
            if isinstance(credential, str):
                return credential  # a 421: the connection closes
            intake = self.intake()
            accepted = await self._off_loop(lambda: accept_client_message(credential, rcpt_to, raw, intake))
        except PosthornError as refused:
            return log_transaction(session, smtp_reply(refused), refused.code)
        except Exception:  # DynamoDB or SQS failing: nothing was accepted, the client retries
            log.warning("message not accepted: a dependency failed", exc_info=True)
            return log_transaction(session, TRANSIENT, "store_unavailable")
        reply = f"250 2.0.0 Ok: queued as {accepted.message_id}"
        log_transaction(
            session,
            reply,
            None,
            message_id=accepted.message_id,
            replayed=accepted.replayed or None,  # named only when true: a line leaves out what is None
            bytes=len(raw),
        )
        return reply


def _credential(session: Session) -> Credential:
    credential = session.auth_data
    if not isinstance(credential, Credential):  # aiosmtpd's auth_required refuses MAIL before AUTH
        raise RuntimeError("transaction without an authenticated credential")
    return credential


def log_transaction(session: Session, reply: str, code: str | None, **more: Any) -> str:
    """One log line per transaction outcome, so an operator can answer "why was my mail refused": the
    client's address, the username, the reply's code and the error code, or the message id. Never a secret,
    a header value or a body. Returns the reply."""
    credential = session.auth_data
    log.info(
        "smtp transaction",
        extra={
            "peer": client_address(session),
            "username": credential.username if isinstance(credential, Credential) else None,
            "reply": reply[:9],
            "error_code": code,
            **more,
        },
    )
    return reply
