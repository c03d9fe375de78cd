"""The guarantees checker's side of a history (tests/e2e/test_guarantees.py): clients that send the way real
ones do (retrying every temporary refusal with the same bytes or the same `Idempotency-Key`), the record of
what each was told, what the local SES received, and the verdicts of docs/api.md's "Guarantees" over both.

A *logical message* is one message a client means to send once, named by a token in its subject and in an
`X-Guarantee-Token` header; its *attempts* are every time the client handed it over (first try, retries
after 4xx/429/409/5xx, deliberate resends after acceptance) and what each was answered. A *copy* is one
message the local SES kept, with the Posthorn id stamped in its `X-SES-MESSAGE-TAGS`.

Copies are tied to the attempt that made them by the millisecond clock in Posthorn's message ids (ULID
layout, `posthorn.logic.ids`): a copy whose id is not the id a client was given was created during one of
the message's attempts, so the verdict can say which ("the attempt answered 451 at 3.2 s was sent"). If the
id layout changes, such copies are reported unattributed, still as violations."""

from __future__ import annotations

import random
import re
import smtplib
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import formatdate
from typing import Any

TOKEN_HEADER = "X-Guarantee-Token"
SMTP_IDEMPOTENCY_HEADER = "X-Posthorn-Idempotency-Key"
QUEUED_AS = re.compile(r"queued as (msg_[0-9A-Za-z]+)")
RETRY_IN = re.compile(r"try again in (\d+) s")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# A copy belongs to the attempt during which its id was made: ids count whole milliseconds (rounded down),
# and one attempt starts the instant the one before it ended, so the slack is that millisecond, no more.
ATTRIBUTION_SLACK = 0.001

ACCEPTED, TEMPORARY, REFUSED, LOST = "accepted", "temporary", "refused", "lost"
SENT_STATUSES = frozenset(
    {"sent", "delivered", "delivery_delayed", "opened", "clicked", "bounced", "complained"}
)
SETTLED_STATUSES = SENT_STATUSES | {"failed", "rejected", "suppressed"}


def new_token() -> str:
    return uuid.uuid4().hex[:16]


def id_time(message_id: str | None) -> float | None:
    """The creation time (epoch seconds) in a Posthorn message id, or None if it has no readable one."""
    if not message_id or not message_id.startswith("msg_") or len(message_id) < 14:
        return None
    millis = 0
    for char in message_id[4:14]:
        digit = _CROCKFORD.find(char.upper())
        if digit < 0:
            return None
        millis = millis * 32 + digit
    return millis / 1000


# ----------------------------------------------------------------------------------------------- the record
@dataclass
class Attempt:
    """One hand-over of a logical message and what the client was told."""

    role: str  # "send" (the first try or a retry of a temporary refusal) or "resend" (after acceptance)
    started: float  # seconds from the history's start
    finished: float
    told: str  # as the client saw it: "250 2.0.0 Ok: queued as msg_...", "429 rate_limited", "no answer: ..."
    outcome: str  # ACCEPTED, TEMPORARY (4xx, 429, 409, retryable 5xx), REFUSED (final), LOST (no answer)
    message_id: str | None = None
    # Over SMTP: the MAIL FROM and RCPT TO replies before DATA (what the session said at each step).
    steps: list[str] = field(default_factory=list)
    # Over SMTP, after a 421: whether the relay closed the connection (docs/api.md, "SMTP relay").
    closed_by_server: bool | None = None

    @property
    def refused(self) -> bool:
        """Answered with a 4xx or 5xx (docs/api.md, "Guarantees": refused means never sent)."""
        return self.outcome in (TEMPORARY, REFUSED)

    def covers(self, moment: float) -> bool:
        return self.started - ATTRIBUTION_SLACK < moment <= self.finished


@dataclass
class Logical:
    token: str
    transport: str  # "smtp", "https" or "batch"
    credential: str  # which credential sent it: "shared", "revoked", "pause-trigger"
    from_email: str
    recipients: list[str]
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def domain(self) -> str:
        return self.from_email.rpartition("@")[2]

    @property
    def acceptance(self) -> Attempt | None:
        return next((a for a in self.attempts if a.role == "send" and a.outcome == ACCEPTED), None)

    @property
    def accepted_id(self) -> str | None:
        accepted = self.acceptance
        return accepted.message_id if accepted else None

    @property
    def unanswered(self) -> bool:
        """Some attempt got no answer: the client cannot know, so neither can the checker."""
        return any(a.outcome == LOST for a in self.attempts if a.role == "send")

    @property
    def never_accepted(self) -> bool:
        sends = [a for a in self.attempts if a.role == "send"]
        return bool(sends) and all(a.refused for a in sends)

    @property
    def label(self) -> str:
        return f"{self.token} ({self.transport}, {self.credential} credential, from {self.domain})"

    def story(self) -> str:
        """What the client was told, attempt by attempt (times relative to the history's start)."""
        return "; ".join(f"{a.role}@{a.started:.2f}s: {a.told}" for a in self.attempts) or "no attempt"


@dataclass(frozen=True)
class Copy:
    """One message the local SES kept."""

    outbox_id: str
    token: str | None
    posthorn_id: str | None
    mail_from: str
    rcpt_to: tuple[str, ...]
    received_at: float  # epoch seconds
    reply_dropped: bool  # SES's ambiguous window: kept, then the connection dropped before its 250

    def describe(self, start: float) -> str:
        window = ", ambiguous window (reply dropped)" if self.reply_dropped else ""
        return (
            f"copy {self.outbox_id} id={self.posthorn_id} rcpt={list(self.rcpt_to)} "
            f"received@{self.received_at - start:.2f}s{window}"
        )


@dataclass
class Probe:
    """A step of a scenario (revocation, suppression, pause) and what the stack answered."""

    scenario: str
    what: str
    at: float  # epoch seconds
    told: str
    ok: bool  # what docs/api.md requires
    closed: bool | None = None  # over SMTP: whether the connection was closed after the reply


@dataclass
class History:
    start: float = field(default_factory=time.time)
    logicals: list[Logical] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # "revoked", "suppressed", "paused": epoch seconds
    probes: list[Probe] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # a client thread that broke (a bug in the checker)
    faults: Counter[str] = field(default_factory=Counter)  # what the local SES's fault plan injected
    copies: list[Copy] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)  # message_id -> status after the drain
    records: dict[str, Any] = field(default_factory=dict)  # message_id -> GET /v1/messages/{id} after it
    held_domains: set[str] = field(default_factory=set)  # paused at the end: their messages wait, unsent
    drained_in: float = 0.0
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, logical: Logical) -> Logical:
        with self._lock:
            self.logicals.append(logical)
        return logical

    def probe(self, probe: Probe) -> None:
        with self._lock:
            self.probes.append(probe)

    def error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def at(self, moment: float) -> float:
        return moment - self.start

    def describe(self, copies: Iterable[Copy]) -> str:
        """Copies as a reader needs them: where, when, and what Posthorn's record of that id says."""
        described = []
        for copy in copies:
            record = self.records.get(copy.posthorn_id or "")
            said = ""
            if isinstance(record, dict) and "status" in record:
                states = ", ".join(f"{r['email']}={r['status']}" for r in record.get("recipients", []))
                said = f" [record: {record['status']}; {states}]"
            elif record is not None:
                said = f" [record: {record}]"
            described.append(copy.describe(self.start) + said)
        return "; ".join(described) or "no copy"

    def logical_of(self, token: str | None) -> Logical | None:
        return next((logical for logical in self.logicals if logical.token == token), None)

    def copies_of(self, token: str) -> list[Copy]:
        return [copy for copy in self.copies if copy.token == token]

    def attempt_counts(self) -> Counter[str]:
        """Replies by kind over every attempt: "250", "451 4.7.1", "429", ..."""
        counted: Counter[str] = Counter()
        for logical in self.logicals:
            for attempt in logical.attempts:
                counted[
                    " ".join(attempt.told.split()[:2]) if attempt.told[:1] in "45" else attempt.outcome
                ] += 1
        return counted


# -------------------------------------------------------------------------------------------------- verdicts
@dataclass(frozen=True)
class Violation:
    kind: str
    token: str
    told: str
    copies: str

    def line(self) -> str:
        return f"[{self.kind}] token {self.token}\n    told: {self.told}\n    seen: {self.copies}"


def report(title: str, violations: list[Violation], history: History, limit: int = 25) -> str:
    kinds = Counter(violation.kind for violation in violations)
    lines = [f"{title}: {len(violations)} violation(s): {dict(kinds)}"]
    lines += [violation.line() for violation in violations[:limit]]
    if len(violations) > limit:
        lines.append(f"... and {len(violations) - limit} more")
    lines.append(summary(history))
    return "\n".join(lines)


def summary(history: History) -> str:
    accepted = [logical for logical in history.logicals if logical.accepted_id]
    return (
        f"history: {len(history.logicals)} logical messages, {len(accepted)} accepted, "
        f"replies {dict(history.attempt_counts())}, SES faults {dict(history.faults)}, "
        f"{len(history.copies)} copies at the local SES, "
        f"in SES's ambiguous window {dict(ambiguous_copies(history))}, drained in "
        f"{history.drained_in:.1f}s; marks "
        f"{ {name: round(history.at(moment), 2) for name, moment in history.marks.items()} }; "
        f"notes {history.notes}" + (f"; CHECKER ERRORS {history.errors}" if history.errors else "")
    )


def attributed(history: History, logical: Logical, message_id: str | None) -> Attempt | None:
    """The attempt whose hand-over created the message with this id, from the time in the id."""
    created = id_time(message_id)
    if created is None:
        return None
    return next((attempt for attempt in logical.attempts if attempt.covers(created - history.start)), None)


def other_messages(history: History, logical: Logical) -> dict[str | None, list[Copy]]:
    """The copies of a logical message under ids its client was never given, by id: each id one message
    Posthorn handed to SES (twice when SES's ambiguous window made it retry)."""
    groups: dict[str | None, list[Copy]] = {}
    for copy in history.copies_of(logical.token):
        if copy.posthorn_id != logical.accepted_id:
            groups.setdefault(copy.posthorn_id, []).append(copy)
    return groups


def refused_but_sent(history: History, transports: Iterable[str]) -> list[Violation]:
    """Refused means never sent (docs/api.md, "Guarantees"): a message answered 4xx/5xx is never handed to
    SES, and a client's retry (same bytes, same key) is sent at most once, under the id it was given. A
    message whose only copies SES kept in its ambiguous window (it hung up before its 250; the sender retried
    and was then refused, e.g. with SES's 554 on the retry) is not counted against it: nobody could have
    known. `summary` reports how many such copies there were."""
    wanted = set(transports)
    found: list[Violation] = []
    for logical in history.logicals:
        if logical.transport not in wanted or (logical.accepted_id is None and logical.unanswered):
            continue
        for message_id, copies in other_messages(history, logical).items():
            if all(copy.reply_dropped for copy in copies):
                continue
            attempt = attributed(history, logical, message_id)
            seen = history.describe(copies)
            if logical.never_accepted:
                found.append(Violation("refused every time, yet sent", logical.label, logical.story(), seen))
            elif attempt is not None and attempt.role == "send" and attempt.refused:
                kind = f"attempt answered {' '.join(attempt.told.split()[:2])} was sent"
                where = f" (made during the attempt at {attempt.started:.2f}s)"
                found.append(Violation(kind, logical.label, logical.story(), seen + where))
    return found


def ambiguous_copies(history: History) -> Counter[str]:
    """Copies SES kept in its ambiguous window: of accepted messages (a second copy, allowed) and of
    messages whose client was then refused (allowed as the same window)."""
    accepted = {logical.token: logical.accepted_id for logical in history.logicals}
    counted: Counter[str] = Counter()
    for copy in history.copies:
        if copy.reply_dropped:
            mine = copy.token in accepted and accepted[copy.token] == copy.posthorn_id
            counted["of accepted messages" if mine else "of refused attempts"] += 1
    return counted


def resent_twice(history: History) -> list[Violation]:
    """A resend is sent once (docs/api.md, "Guarantees"): a deliberate duplicate answers the first id and
    makes no copy."""
    found: list[Violation] = []
    for logical in history.logicals:
        resends = [a for a in logical.attempts if a.role == "resend"]
        if not resends or not logical.accepted_id:
            continue
        for attempt in resends:
            if attempt.outcome == ACCEPTED and attempt.message_id != logical.accepted_id:
                told = f"first id {logical.accepted_id}, resend told {attempt.message_id}"
                found.append(Violation("resend answered another id", logical.label, logical.story(), told))
        if resends[-1].outcome != ACCEPTED and not taken_away_before_data(resends[-1]):
            kind = "resend never answered with the first id"
            found.append(Violation(kind, logical.label, logical.story(), ""))
        for message_id, copies in other_messages(history, logical).items():
            made_by = attributed(history, logical, message_id)
            if made_by is not None and made_by.role == "resend":
                where = f" (made during the resend at {made_by.started:.2f}s)"
                seen = history.describe(copies) + where
                found.append(Violation("resend sent again", logical.label, logical.story(), seen))
    return found


# Refusals before DATA for a right taken away since the first acceptance (docs/api.md, "SMTP relay": the
# recipient suppressed, the credential changed, the domain paused): the session cannot know the message is a
# resend before DATA, and the right's going wins. The first copy is then judged by "accepted means sent once"
# (the worker still checks suppressions and pauses at send time).
TAKEN_AWAY_BEFORE_DATA = re.compile(r"550 5\.1\.1 |421 4\.7\.0 |550 5\.7\.1 domain_paused")


def taken_away_before_data(attempt: Attempt) -> bool:
    return attempt.refused and bool(TAKEN_AWAY_BEFORE_DATA.search(attempt.told))


def expected_copies(logical: Logical, status: str | None, held_domains: set[str]) -> int | None:
    """Copies under the accepted id, outside the ambiguous window: 1 once sent, 0 when SES refused it
    (failed), every recipient was suppressed at send time, or its domain is paused (held); None: unsettled."""
    if status in SENT_STATUSES:
        return 1
    if status in ("failed", "rejected", "suppressed"):
        return 0
    if status == "queued" and logical.domain in held_domains:
        return 0
    return None


def accepted_not_sent_once(history: History) -> tuple[list[Violation], Counter[str]]:
    """Accepted means sent once (docs/api.md, "Guarantees"): every accepted message reaches SES exactly once
    (a second copy only in SES's ambiguous window); one SES refused for good is `failed` with no copy. Also: a
    copy no client was ever given an id for, and no attempt explains."""
    found: list[Violation] = []
    counts: Counter[str] = Counter()
    explained: set[str] = set()
    for logical in history.logicals:
        copies = history.copies_of(logical.token)
        explained.update(
            copy.outbox_id for copy in copies if attributed(history, logical, copy.posthorn_id) is not None
        )
        accepted_id = logical.accepted_id
        if accepted_id is None:
            continue
        counts["accepted"] += 1
        status = history.statuses.get(accepted_id)
        counts[f"status {status}"] += 1
        mine = [copy for copy in copies if copy.posthorn_id == accepted_id]
        explained.update(copy.outbox_id for copy in mine)
        clean = [copy for copy in mine if not copy.reply_dropped]
        counts["ambiguous window copies"] += len(mine) - len(clean)
        expected = expected_copies(logical, status, history.held_domains)
        seen = history.describe(mine)
        if expected is None:
            found.append(
                Violation(f"accepted, still {status} after the drain", logical.label, logical.story(), seen)
            )
        elif len(clean) != expected:
            kind = "accepted, never sent" if not mine else f"accepted, {len(clean)} copies (status {status})"
            found.append(Violation(kind, logical.label, logical.story(), seen))
    stories = {logical.token: logical.story() for logical in history.logicals}
    for copy in history.copies:
        if copy.outbox_id not in explained and copy.token is not None:
            story = stories.get(copy.token, "no client sent this token")
            found.append(Violation("copy no attempt explains", copy.token, story, history.describe([copy])))
    return found, counts


# --------------------------------------------------------------------------------------------- the clients
def smtp_bytes(
    token: str, from_email: str, recipients: list[str], *, idempotency_key: bool = False, note: str = ""
) -> bytes:
    """The client's message: CRLF lines, the token in Subject and a header; a Message-ID, or (to test the
    key alone) `X-Posthorn-Idempotency-Key` instead."""
    headers = [
        f"From: {from_email}",
        f"To: {', '.join(recipients)}",
        f"Subject: guarantee {token}",
        f"Date: {formatdate(localtime=False)}",
        f"{TOKEN_HEADER}: {token}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    headers.append(
        f"{SMTP_IDEMPOTENCY_HEADER}: key-{token}"
        if idempotency_key
        else f"Message-ID: <{token}@guarantees.test>"
    )
    body = f"Checking the guarantees ({note or 'history'}).\r\n.a line that starts with a dot\r\n"
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


def reply_text(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}".strip()


class SmtpClient:
    """One SMTP session at a time over STARTTLS with AUTH PLAIN, reconnecting when the relay closed it."""

    def __init__(self, host: str, port: int, ca_file: str, username: str, secret: str) -> None:
        self.host, self.port = host, port
        self.context = ssl.create_default_context(cafile=ca_file)
        self.username, self.secret = username, secret
        self.smtp: smtplib.SMTP | None = None

    def connect(self) -> smtplib.SMTP:
        if self.smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=20)
            try:
                smtp.starttls(context=self.context)
                smtp.login(self.username, self.secret)
            except BaseException:
                smtp.close()
                raise
            self.smtp = smtp
        return self.smtp

    def drop(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None

    def closed_by_server(self) -> bool:
        """True if the relay closed the connection (NOOP finds it gone); the session is dropped either way
        when it was, and kept when it was not."""
        if self.smtp is None:
            return True
        try:
            code, _ = self.smtp.noop()
        except (smtplib.SMTPServerDisconnected, OSError):
            self.drop()
            return True
        return code == 421

    def _after_421(self) -> bool:
        """After a 421 the relay must have closed the connection: find out, then drop it anyway."""
        closed = self.closed_by_server()
        self.drop()
        return closed

    def reset(self) -> None:
        try:
            if self.smtp is not None:
                self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.drop()

    def attempt(
        self, role: str, start: float, mail_from: str, recipients: list[str], raw: bytes
    ) -> tuple[Attempt, list[str]]:
        """MAIL, RCPT each, DATA: the attempt and the recipients refused at RCPT (5xx)."""
        started = time.time()
        steps: list[str] = []
        refused_rcpt: list[str] = []

        closed: bool | None = None

        def done(told: str, outcome: str, message_id: str | None = None) -> tuple[Attempt, list[str]]:
            attempt = Attempt(
                role, started - start, time.time() - start, told, outcome, message_id, steps, closed
            )
            return attempt, refused_rcpt

        try:
            smtp = self.connect()
        except smtplib.SMTPResponseException as error:
            self.drop()
            told = reply_text(error.smtp_code, error.smtp_error)
            return done(f"at connect/AUTH: {told}", TEMPORARY if error.smtp_code < 500 else REFUSED)
        except (smtplib.SMTPException, OSError) as error:
            self.drop()
            return done(f"no connection: {error!r}", TEMPORARY)
        in_data = False
        try:
            code, text = smtp.mail(mail_from)
            steps.append(f"MAIL {reply_text(code, text)}")
            if code != 250:
                if code == 421:
                    closed = self._after_421()
                else:
                    self.reset()
                return done(f"MAIL {reply_text(code, text)}", TEMPORARY if code < 500 else REFUSED)
            accepted_rcpt = []
            for address in recipients:
                code, text = smtp.rcpt(address)
                steps.append(f"RCPT {address}: {reply_text(code, text)}")
                if code == 250:
                    accepted_rcpt.append(address)
                elif code >= 500:
                    refused_rcpt.append(address)
                else:
                    if code == 421:
                        closed = self._after_421()
                    else:
                        self.reset()
                    return done(f"RCPT {address}: {reply_text(code, text)}", TEMPORARY)
            if not accepted_rcpt:
                self.reset()
                return done(f"every RCPT refused: {steps[-1]}", REFUSED)
            in_data = True
            code, text = smtp.data(raw)
        except smtplib.SMTPDataError as error:  # DATA itself refused (354 never came)
            told = f"DATA {reply_text(error.smtp_code, error.smtp_error)}"
            if error.smtp_code == 421:
                closed = self._after_421()
            else:
                self.reset()
            return done(told, TEMPORARY if error.smtp_code < 500 else REFUSED)
        except (smtplib.SMTPException, OSError) as error:  # socket timeouts are OSErrors
            self.drop()
            if in_data:
                return done(f"no answer to DATA: {error!r}", LOST)
            return done(f"connection lost before DATA: {error!r}", TEMPORARY)
        told = reply_text(code, text)
        if code == 250:
            found = QUEUED_AS.search(told)
            return done(told, ACCEPTED, found.group(1) if found else None)
        if code == 421:
            closed = self._after_421()
        return done(told, TEMPORARY if code < 500 else REFUSED)


def wait_before_retry(told: str, cap: float = 1.0) -> None:
    """What the reply asks for (`try again in N s`, `Retry-After`), capped so the history stays short."""
    found = RETRY_IN.search(told)
    asked = float(found.group(1)) if found else 0.3
    time.sleep(min(asked, cap) * random.uniform(0.4, 1.0))


def pursue(
    logical: Logical,
    send: Callable[[str], Attempt],
    *,
    deadline: float,
    max_attempts: int = 6,
    resend: bool = False,
) -> None:
    """Send until accepted or finally refused, retrying every temporary refusal (and a lost answer) with
    the same message; then, if asked, send it again as a deliberate duplicate until it is answered."""
    for _ in range(max_attempts):
        attempt = send("send")
        logical.attempts.append(attempt)
        if attempt.outcome in (ACCEPTED, REFUSED) or time.time() > deadline:
            break
        wait_before_retry(attempt.told)
    if not resend or logical.acceptance is None:
        return
    for _ in range(max_attempts):
        attempt = send("resend")
        logical.attempts.append(attempt)
        if attempt.outcome in (ACCEPTED, REFUSED):
            break
        wait_before_retry(attempt.told)


def http_outcome(status: int, body: Any) -> str:
    if status in (200, 202):
        return ACCEPTED
    if status in (409, 429) or (status >= 500 and status != 502):
        return TEMPORARY
    return REFUSED


def http_told(status: int, body: Any, headers: dict[str, str]) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        retry = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        told = f"{status} {body['error'].get('code')}"
        return told + (f" (Retry-After {retry}; try again in {retry} s)" if retry else "")
    if isinstance(body, dict) and "message_id" in body:
        return f"{status} {body.get('status')} {body['message_id']}"
    return str(status)


def parse_headers(raw: bytes) -> Any:
    return BytesHeaderParser(policy=default).parsebytes(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
