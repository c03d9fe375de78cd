"""The guarantees checker: docs/api.md's "Guarantees" (and the SMTP relay's share of them) checked over one
recorded history against the running local stack, the way clients and SES really behave.

The history (about 15 s, the module's `history` fixture): clients in threads, three over SMTP (STARTTLS +
AUTH, trusting the stack's CA from `GET /_local/ca.pem`), one over `POST /v1/email` and one over
`POST /v1/email/batch`, all on ONE credential limited to 4 messages a second, so many attempts are answered
`451 4.7.1` / 429. Every client retries every temporary refusal as real clients do: the same bytes (same
Message-ID, or the same `X-Posthorn-Idempotency-Key`) over SMTP, the same body and `Idempotency-Key` over
HTTPS; about a third of the accepted messages are then sent again on purpose (and, once the clients have
stopped, a burst of 16 more on a credential whose rate never refuses). Meanwhile:
- from the start a third credential sends hard bounces (over SMTP) from a second domain until the
  deliverability guard pauses it (the guard's settings made small for this stack; there is no admin route
  that pauses a domain);
- at 2.5 s a second credential is revoked while one of its SMTP sessions, used before, stays open;
- at 4 s an address is suppressed through `POST /v1/suppressions`;
- at 3-12 s the local SES's fault plan drops connections after the final dot (before and after keeping the
  message), answers 4xx and 554.
The local API serves one request at a time (one Lambda instance), so these marks come later than planned
when it is busy; every "within 2 s" is measured from the API's answer (or, for the pause, from when the
checker first saw `sending: paused`).

Then the worker drains (every accepted message `sent`/`delivered`/`failed`/..., at most 45 s), the local SES
outbox (`GET /_local/outbox`, `/_local/outbox/{id}/raw`) is read, and each test below judges one guarantee
over that record; a failure lists every violation with the message's token, what its client was told
(attempt by attempt, times from the history's start) and the copies SES received. Copies kept in SES's
ambiguous window (the fault plan hung up after keeping the message, before its 250) are allowed as a
message's second copy and counted.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import pytest

from posthorn_local.ses_smtp_server import FaultPlan
from posthorn_local.stack import LocalStack
from tests.e2e.conftest import ADMIN_KEY, Http, running_stack
from tests.support.guarantees import (
    ACCEPTED,
    LOST,
    REFUSED,
    SETTLED_STATUSES,
    TEMPORARY,
    TOKEN_HEADER,
    Attempt,
    Copy,
    History,
    Logical,
    Probe,
    SmtpClient,
    Violation,
    accepted_not_sent_once,
    http_outcome,
    http_told,
    new_token,
    parse_headers,
    pursue,
    refused_but_sent,
    report,
    resent_twice,
    smtp_bytes,
)

pytestmark = pytest.mark.e2e

DOMAIN = "example.com"
PAUSED_DOMAIN = "pause.example"  # the guard pauses it in the middle of the history
FROM = f"hello@{DOMAIN}"
PAUSED_FROM = f"hello@{PAUSED_DOMAIN}"
VICTIM = "victim@example.net"  # suppressed in the middle of the history
SHARED_RATE = 4  # messages a second for every client of the history together
HISTORY_SECONDS = 15.0
DRAIN_SECONDS = 45.0
RIGHT_GONE_WITHIN = 2.0  # docs/api.md, "Guarantees": a right taken away is gone within 2 s
# Small guard settings, so that a few hard bounces pause a domain (docs/api.md, "Deliverability guard").
GUARD = {
    "POSTHORN_GUARD_WINDOW": "1000",
    "POSTHORN_GUARD_MINIMUM": "5",
    "POSTHORN_GUARD_BOUNCE_RATE": "4",
    "POSTHORN_GUARD_COMPLAINT_RATE": "0.08",
}


# ------------------------------------------------------------------------------------------------ the stack
@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """A stack of its own (as tests/e2e/conftest.py starts one) with the guard's small settings."""
    with running_stack(GUARD) as running:
        yield running


@dataclass(frozen=True)
class Keys:
    shared: str  # every client of the history: send + read, both domains, SHARED_RATE a second
    revoked: str  # revoked in the middle of the history, one of its SMTP sessions open
    pause_trigger: str  # sends the hard bounces that make the guard pause PAUSED_DOMAIN
    resender: str  # the resend burst after the clients stopped: its rate never refuses
    reader: str  # reads every message's status after the drain


def create_credential(http: Http, name: str, domains: list[str], permissions: list[str], rate: int) -> str:
    body = {"name": name, "domains": domains, "permissions": permissions, "rate_limit_per_second": rate}
    created = http.post("/v1/credentials", body, api_key=ADMIN_KEY)
    assert created.status == 201, created.body
    return str(created.json["api_key"])


@pytest.fixture(scope="module")
def keys(http: Http) -> Keys:
    for domain in (DOMAIN, PAUSED_DOMAIN):
        added = http.post("/v1/domains", {"domain": domain}, api_key=ADMIN_KEY)
        assert added.status == 201, added.body
    both = [DOMAIN, PAUSED_DOMAIN]
    return Keys(
        shared=create_credential(http, "shared", both, ["send", "read"], SHARED_RATE),
        revoked=create_credential(http, "to revoke", [DOMAIN], ["send", "read"], 100),
        pause_trigger=create_credential(http, "bounces", [PAUSED_DOMAIN], ["send"], 100),
        resender=create_credential(http, "resends", [DOMAIN], ["send"], 100),
        reader=create_credential(http, "reader", both, ["read"], 100),
    )


# ---------------------------------------------------------------------------------------------- the history
@dataclass
class Run:
    stack: LocalStack
    http: Http
    keys: Keys
    history: History
    ca_file: str

    @property
    def stop_at(self) -> float:
        return self.history.start + HISTORY_SECONDS

    def smtp(self, api_key: str) -> SmtpClient:
        username, _, secret = api_key.partition(".")
        return SmtpClient(
            self.stack.smtp_host, self.stack.relay.starttls_port, self.ca_file, username, secret
        )

    def sleep_until(self, offset: float) -> None:
        """Sleep until `offset` seconds after the history's start."""
        time.sleep(max(0.0, self.history.start + offset - time.time()))

    def guarded(self, name: str, body: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                body()
            except Exception as error:  # a broken client is the checker's bug: reported, never hidden
                self.history.error(f"{name}: {error!r}")

        thread = threading.Thread(target=run, name=f"guarantees-{name}", daemon=True)
        thread.start()
        return thread


def recipients_for(rng: random.Random, token: str) -> list[str]:
    """Mostly plain addresses; about one message in six names the address that gets suppressed."""
    other = f"user+{token[:6]}@example.net"
    draw = rng.random()
    if draw < 0.06:
        return [VICTIM]
    if draw < 0.17:
        return [VICTIM, other]
    if draw < 0.35:
        return [other, f"cc+{token[:6]}@example.net"]
    return [other]


def api_body(token: str, from_email: str, recipients: list[str]) -> dict[str, Any]:
    return {
        "from_email": from_email,
        "to": recipients,
        "subject": f"guarantee {token}",
        "body_text": "Checking the guarantees.",
        "headers": {TOKEN_HEADER: token},
    }


def api_sender(
    run: Run, api_key: str, body: dict[str, Any], idempotency_key: str
) -> Callable[[str], Attempt]:
    start = run.history.start

    def send(role: str) -> Attempt:
        started = time.time()
        try:
            answer = run.http.post(
                "/v1/email", body, api_key=api_key, headers={"Idempotency-Key": idempotency_key}
            )
        except OSError as error:  # no answer in time: the client cannot know what happened
            return Attempt(role, started - start, time.time() - start, f"no answer: {error!r}", LOST)
        payload = answer.json if answer.body else None
        outcome = http_outcome(answer.status, payload)
        message_id = payload.get("message_id") if outcome == ACCEPTED and isinstance(payload, dict) else None
        told = http_told(answer.status, payload, answer.headers)
        return Attempt(role, started - start, time.time() - start, told, outcome, message_id)

    return send


def smtp_sender(
    run: Run, client: SmtpClient, from_email: str, recipients: list[str], raw: bytes
) -> Callable[[str], Attempt]:
    def send(role: str) -> Attempt:
        attempt, _ = client.attempt(role, run.history.start, from_email, recipients, raw)
        return attempt

    return send


def smtp_client(run: Run, seed: int) -> None:
    rng = random.Random(seed)
    client = run.smtp(run.keys.shared)
    try:
        while time.time() < run.stop_at:
            token = new_token()
            from_email = PAUSED_FROM if rng.random() < 0.1 else FROM
            recipients = recipients_for(rng, token)
            raw = smtp_bytes(token, from_email, recipients, idempotency_key=rng.random() < 0.3)
            logical = run.history.add(Logical(token, "smtp", "shared", from_email, recipients))
            send = smtp_sender(run, client, from_email, recipients, raw)
            pursue(logical, send, deadline=run.stop_at + 2, resend=rng.random() < 0.35)
    finally:
        client.drop()


def https_client(run: Run, seed: int) -> None:
    rng = random.Random(seed)
    while time.time() < run.stop_at:
        token = new_token()
        from_email = PAUSED_FROM if rng.random() < 0.1 else FROM
        recipients = recipients_for(rng, token)
        logical = run.history.add(Logical(token, "https", "shared", from_email, recipients))
        send = api_sender(run, run.keys.shared, api_body(token, from_email, recipients), f"key-{token}")
        pursue(logical, send, deadline=run.stop_at + 2, resend=rng.random() < 0.5)


def batch_client(run: Run, seed: int) -> None:
    """Batches of 1-3 over `POST /v1/email/batch`, retried whole (same key, same body) after 429/409/5xx;
    every item is a logical message of its own, accepted by `queued` or refused by `rejected`."""
    rng = random.Random(seed)
    start = run.history.start
    while time.time() < run.stop_at:
        items = []
        for _ in range(rng.randint(1, 3)):
            token = new_token()
            from_email = PAUSED_FROM if rng.random() < 0.1 else FROM
            recipients = recipients_for(rng, token)
            items.append(run.history.add(Logical(token, "batch", "shared", from_email, recipients)))
        body = {"messages": [api_body(item.token, item.from_email, item.recipients) for item in items]}
        key = f"batch-{items[0].token}"
        resend = rng.random() < 0.6
        role = "send"
        for _ in range(12):
            started = time.time()
            try:
                answer = run.http.post(
                    "/v1/email/batch", body, api_key=run.keys.shared, headers={"Idempotency-Key": key}
                )
            except OSError as error:
                for item in items:
                    item.attempts.append(
                        Attempt(role, started - start, time.time() - start, f"no answer: {error!r}", LOST)
                    )
                continue
            finished = time.time()
            payload = answer.json if answer.body else None
            if answer.status == 202 and isinstance(payload, dict):
                for item, result in zip(items, payload["results"], strict=True):
                    queued = result.get("status") == "queued"
                    told = f"202 item {result.get('status')} " + (
                        str(result.get("message_id")) if queued else str(result.get("error", {}).get("code"))
                    )
                    outcome = ACCEPTED if queued else REFUSED
                    item.attempts.append(
                        Attempt(
                            role, started - start, finished - start, told, outcome, result.get("message_id")
                        )
                    )
                if role == "resend" or not resend:
                    break
                role = "resend"  # the same batch again, as a client that lost the 202 would
                continue
            outcome = http_outcome(answer.status, payload)
            told = http_told(answer.status, payload, answer.headers)
            for item in items:
                item.attempts.append(Attempt(role, started - start, finished - start, told, outcome))
            if outcome == REFUSED or (role == "send" and time.time() > run.stop_at + 2):
                break
            time.sleep(random.uniform(0.4, 1.0))


def probe_smtp(
    run: Run,
    client: SmtpClient,
    scenario: str,
    what: str,
    credential: str,
    from_email: str,
    recipients: list[str],
    expected: Callable[[Attempt], bool],
) -> Attempt:
    """One transaction of a scenario, recorded both as a logical message and as a probe."""
    token = new_token()
    logical = run.history.add(Logical(token, "smtp", credential, from_email, recipients))
    attempt, _ = client.attempt(
        "send",
        run.history.start,
        from_email,
        recipients,
        smtp_bytes(token, from_email, recipients, note=scenario),
    )
    logical.attempts.append(attempt)
    closed = attempt.closed_by_server
    told = (
        " / ".join([*attempt.steps, attempt.told])
        if attempt.steps and attempt.steps[-1] != attempt.told
        else attempt.told
    )
    run.history.probe(
        Probe(scenario, what, run.history.start + attempt.started, told, expected(attempt), closed)
    )
    return attempt


def closed_with_421(attempt: Attempt) -> bool:
    """`421 4.7.0` at MAIL FROM (or at the end of DATA), and the relay closed the connection."""
    said = attempt.told.startswith(("MAIL 421 4.7.0", "421 4.7.0"))
    return said and attempt.closed_by_server is True


def refused_at_rcpt(attempt: Attempt) -> bool:
    return any(step.startswith(f"RCPT {VICTIM}: 550 5.1.1") for step in attempt.steps)


def refused_as_paused(attempt: Attempt) -> bool:
    """`550 5.7.1 domain_paused` at MAIL FROM, or at the end of DATA (the From: check)."""
    return attempt.told.startswith(("MAIL 550 5.7.1", "550 5.7.1")) and "domain_paused" in attempt.told


def probe_api(run: Run, scenario: str, what: str, logical: Logical, wanted: str) -> None:
    """The last answer of an API send a scenario made (429s retried); one still rate limited says nothing."""
    last = logical.attempts[-1]
    if last.outcome == TEMPORARY:
        run.history.notes.append(f"{scenario}: {what} was still answered {last.told}; not judged")
        return
    at = run.history.start + last.started
    run.history.probe(Probe(scenario, what, at, last.told, last.told.startswith(wanted)))


def revocation(run: Run) -> None:
    """A credential's SMTP session, open and used before its revocation: within 2 s of the API's answer
    its next MAIL FROM is `421 4.7.0` and the connection closes (docs/api.md, "SMTP relay")."""
    client = run.smtp(run.keys.revoked)
    try:
        run.sleep_until(0.5)
        before = probe_smtp(
            run,
            client,
            "revocation",
            "a message before the revocation",
            "revoked",
            FROM,
            ["r@example.net"],
            lambda attempt: attempt.outcome == ACCEPTED,
        )
        assert before.outcome == ACCEPTED, before.told
        run.sleep_until(2.5)
        username = run.keys.revoked.partition(".")[0]
        answer = run.http.request(
            "PATCH", f"/v1/credentials/{username}", {"status": "revoked"}, api_key=ADMIN_KEY
        )
        assert answer.status == 200, answer.body
        revoked = run.history.marks["revoked"] = time.time()
        for offset in (RIGHT_GONE_WITHIN, RIGHT_GONE_WITHIN + 1.5, RIGHT_GONE_WITHIN + 3.0):
            time.sleep(max(0.0, revoked + offset + 0.05 - time.time()))
            probe_smtp(
                run,
                client,
                "revocation",
                f"MAIL FROM on the open session, {offset:.1f} s after the revocation",
                "revoked",
                FROM,
                [f"r{offset:.0f}@example.net"],
                closed_with_421,
            )
            if client.smtp is None:  # closed, as it should be: nothing more to try on it
                break
        token = new_token()
        logical = run.history.add(Logical(token, "https", "revoked", FROM, ["r-api@example.net"]))
        attempt = api_sender(
            run, run.keys.revoked, api_body(token, FROM, logical.recipients), f"key-{token}"
        )("send")
        logical.attempts.append(attempt)
        run.history.probe(
            Probe(
                "revocation",
                "POST /v1/email with the revoked key",
                run.history.start + attempt.started,
                attempt.told,
                attempt.told.startswith("401 unauthorized"),
            )
        )
    finally:
        client.drop()


def suppression(run: Run) -> None:
    """An address suppressed through the API: within 2 s RCPT TO for it is `550 5.1.1` (sessions already
    open included) and the API leaves it out."""
    client = run.smtp(run.keys.shared)
    try:
        client.connect()  # open before the suppression, used after it
        run.sleep_until(4.0)
        body = {"email": VICTIM, "reason": "manual", "domain": DOMAIN}
        answer = run.http.post("/v1/suppressions", body, api_key=run.keys.shared)
        assert answer.status in (200, 201), answer.body
        suppressed = run.history.marks["suppressed"] = time.time()
        for offset in (RIGHT_GONE_WITHIN, RIGHT_GONE_WITHIN + 2, RIGHT_GONE_WITHIN + 5):
            time.sleep(max(0.0, suppressed + offset + 0.05 - time.time()))
            probe_smtp(
                run,
                client,
                "suppression",
                f"RCPT TO the suppressed address, {offset:.0f} s after",
                "shared",
                FROM,
                [VICTIM],
                refused_at_rcpt,
            )
            if offset == RIGHT_GONE_WITHIN:
                token = new_token()
                logical = run.history.add(Logical(token, "https", "shared", FROM, [VICTIM]))
                send = api_sender(run, run.keys.shared, api_body(token, FROM, [VICTIM]), f"key-{token}")
                pursue(logical, send, deadline=time.time() + 6)
                what = "POST /v1/email to the suppressed address alone"
                probe_api(run, "suppression", what, logical, "422 all_recipients_suppressed")
    finally:
        client.drop()


def pause(run: Run) -> None:
    """Hard bounces from PAUSED_DOMAIN until the guard pauses it; within 2 s of that, MAIL FROM it is
    `550 5.7.1 domain_paused` and the API answers 403 `domain_paused`."""
    bouncer = run.smtp(run.keys.pause_trigger)  # over the relay: the API serves one request at a time
    try:
        for _ in range(6):
            token = new_token()
            to = [f"bounce+{token[:8]}@simulator.amazonses.com"]
            logical = run.history.add(Logical(token, "smtp", "pause-trigger", PAUSED_FROM, to))
            raw = smtp_bytes(token, PAUSED_FROM, to, note="a hard bounce for the guard")
            pursue(
                logical,
                smtp_sender(run, bouncer, PAUSED_FROM, to, raw),
                deadline=time.time() + 5,
                max_attempts=3,
            )
    finally:
        bouncer.drop()
    run.history.notes.append(f"bounces sent by {run.history.at(time.time()):.2f}s")
    deadline = time.time() + 15
    while time.time() < deadline:
        domain = run.http.get(f"/v1/domains/{PAUSED_DOMAIN}", api_key=ADMIN_KEY)
        if domain.status == 200 and domain.json.get("sending") == "paused":
            break
        time.sleep(0.2)
    else:
        run.history.notes.append(f"the guard did not pause {PAUSED_DOMAIN} within 15 s of its bounces")
        return
    paused = run.history.marks["paused"] = time.time()  # when the checker saw it: the pause came before
    client = run.smtp(run.keys.shared)
    try:
        for offset in (RIGHT_GONE_WITHIN, RIGHT_GONE_WITHIN + 2):
            time.sleep(max(0.0, paused + offset + 0.05 - time.time()))
            probe_smtp(
                run,
                client,
                "pause",
                f"MAIL FROM the paused domain, {offset:.0f} s after",
                "shared",
                PAUSED_FROM,
                ["p@example.net"],
                refused_as_paused,
            )
        token = new_token()
        logical = run.history.add(Logical(token, "https", "shared", PAUSED_FROM, ["p-api@example.net"]))
        send = api_sender(
            run, run.keys.shared, api_body(token, PAUSED_FROM, logical.recipients), f"key-{token}"
        )
        pursue(logical, send, deadline=time.time() + 6)
        probe_api(run, "pause", "POST /v1/email from the paused domain", logical, "403 domain_paused")
    finally:
        client.drop()


def resend_burst(run: Run) -> None:
    """When the clients have stopped: messages each sent again right after acceptance, as a client that
    lost the 250/200 does, on a credential whose rate never refuses (the shared one's 451s and 429s make
    the history's own resends fewer and slower)."""
    run.sleep_until(HISTORY_SECONDS)
    client = run.smtp(run.keys.resender)
    try:
        for n in range(12):
            token = new_token()
            to = [f"resend+{token[:6]}@example.net"]
            logical = run.history.add(Logical(token, "smtp", "resender", FROM, to))
            raw = smtp_bytes(token, FROM, to, idempotency_key=n % 2 == 1, note="a resend")
            pursue(logical, smtp_sender(run, client, FROM, to, raw), deadline=time.time() + 5, resend=True)
    finally:
        client.drop()
    for _ in range(4):
        token = new_token()
        to = [f"resend+{token[:6]}@example.net"]
        logical = run.history.add(Logical(token, "https", "resender", FROM, to))
        send = api_sender(run, run.keys.resender, api_body(token, FROM, to), f"key-{token}")
        pursue(logical, send, deadline=time.time() + 5, resend=True)


def faults(run: Run) -> None:
    """The local SES misbehaves from 3 s to 12 s: drops after the final dot (before and after keeping the
    message), 4xx and 554; each kind forced once, then drawn at random."""
    run.sleep_until(3.0)
    plan = FaultPlan(
        drop_rate=0.04, accepted_drop_rate=0.05, transient_rate=0.08, permanent_rate=0.04, seed=11
    )
    plan.force("accept_drop", "451", "554", "drop", "accept_drop")
    run.stack.ses.faults = plan  # the local SES reads its plan on every DATA
    run.sleep_until(12.0)
    run.stack.ses.faults = FaultPlan()
    run.history.faults.update(plan.injected)


def drain(run: Run) -> None:
    """Until every accepted message is settled (held ones of a paused domain aside) and the outbox has
    stopped growing, at most DRAIN_SECONDS; then read the outbox."""
    history, http = run.history, run.http
    began = time.monotonic()
    deadline = began + DRAIN_SECONDS
    domain = http.get(f"/v1/domains/{PAUSED_DOMAIN}", api_key=ADMIN_KEY)
    if domain.status == 200 and domain.json.get("sending") == "paused":
        history.held_domains.add(PAUSED_DOMAIN)
    pending = {(logical.accepted_id, logical.domain) for logical in history.logicals if logical.accepted_id}
    while pending and time.monotonic() < deadline:
        for message_id, domain_name in sorted(pending):
            answer = http.get(f"/v1/messages/{message_id}", api_key=run.keys.reader)
            status = str(answer.json.get("status")) if answer.status == 200 else f"HTTP {answer.status}"
            history.statuses[message_id] = status
            history.records[message_id] = answer.json if answer.status == 200 else f"HTTP {answer.status}"
            if status in SETTLED_STATUSES or (status == "queued" and domain_name in history.held_domains):
                pending.discard((message_id, domain_name))
        if pending:
            time.sleep(0.5)
    # Copies of messages nobody was told about (a refused attempt sent anyway) settle no status: wait until
    # the outbox stops growing.
    size, since = len(run.stack.ses.outbox), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < 3.0:
        time.sleep(0.25)
        if len(run.stack.ses.outbox) != size:
            size, since = len(run.stack.ses.outbox), time.monotonic()
    history.drained_in = time.monotonic() - began
    listing = http.get("/_local/outbox")
    assert listing.status == 200, listing.body
    for item in listing.json["messages"]:
        raw = http.get(f"/_local/outbox/{item['id']}/raw")
        headers = parse_headers(raw.body)
        kept = run.stack.ses.outbox.get(item["id"])
        history.copies.append(
            Copy(
                outbox_id=item["id"],
                token=str(headers[TOKEN_HEADER]) if headers[TOKEN_HEADER] else None,
                posthorn_id=item.get("posthorn_message_id"),
                mail_from=item["mail_from"],
                rcpt_to=tuple(item["rcpt_to"]),
                received_at=datetime.fromisoformat(item["received_at"]).timestamp(),
                reply_dropped=bool(kept and kept.reply_dropped),
            )
        )
    for copy in history.copies:  # what Posthorn says of the copies nobody was given an id for
        if copy.posthorn_id and copy.posthorn_id not in history.records:
            answer = http.get(f"/v1/messages/{copy.posthorn_id}", api_key=run.keys.reader)
            history.records[copy.posthorn_id] = (
                answer.json if answer.status == 200 else f"HTTP {answer.status}"
            )


@pytest.fixture(scope="module")
def history(stack: LocalStack, http: Http, keys: Keys) -> History:
    ca = http.get("/_local/ca.pem")
    assert ca.status == 200
    assert b"BEGIN CERTIFICATE" in ca.body
    assert stack.ca_file is not None
    ca_file = stack.ca_file.with_name("guarantees-ca.pem")
    ca_file.write_bytes(ca.body)  # the clients trust what the stack serves, as a user's would
    run = Run(stack, http, keys, History(), str(ca_file))
    threads = [run.guarded(f"smtp-{n}", partial(smtp_client, run, n)) for n in range(3)]
    threads.append(run.guarded("https", partial(https_client, run, 100)))
    threads.append(run.guarded("batch", partial(batch_client, run, 200)))
    scenarios = {
        "faults": faults,
        "resends": resend_burst,
        "revocation": revocation,
        "suppression": suppression,
        "pause": pause,
    }
    threads += [run.guarded(name, partial(scenario, run)) for name, scenario in scenarios.items()]
    for thread in threads:
        thread.join(timeout=HISTORY_SECONDS + 40)
        if thread.is_alive():
            run.history.error(f"{thread.name} still running after the history")
    drain(run)
    return run.history


# ------------------------------------------------------------------------------------------------- verdicts
def test_refused_over_smtp_is_never_sent(history: History) -> None:
    """Every SMTP attempt answered 4xx/5xx (most of them `451 4.7.1 rate limit exceeded`) made no copy, and
    a message refused every time never reached SES."""
    refusals = sum(a.refused for m in history.logicals if m.transport == "smtp" for a in m.attempts)
    assert refusals >= 10, f"the history refused only {refusals} SMTP attempts: nothing to check\n" + report(
        "refused over SMTP", [], history
    )
    found = refused_but_sent(history, ["smtp"])
    assert not found, report(f"refused over SMTP ({refusals} refused attempts)", found, history)


def test_refused_over_https_is_never_sent(history: History) -> None:
    """The same over `POST /v1/email` (429, 409, 5xx, 422, 403) and batch items `rejected`."""
    refusals = sum(a.refused for m in history.logicals if m.transport != "smtp" for a in m.attempts)
    assert refusals >= 10, f"the history refused only {refusals} HTTPS attempts: nothing to check"
    found = refused_but_sent(history, ["https", "batch"])
    assert not found, report(f"refused over HTTPS ({refusals} refused attempts)", found, history)


def test_resend_is_sent_once(history: History) -> None:
    """A deliberate duplicate after acceptance (SMTP: same bytes with the same Message-ID, or the same
    `X-Posthorn-Idempotency-Key`; HTTPS and batch: same body and `Idempotency-Key`) answers the first id
    and makes no second copy."""
    resent = {
        transport: sum(
            1
            for m in history.logicals
            if m.transport == transport and any(a.role == "resend" for a in m.attempts)
        )
        for transport in ("smtp", "https", "batch")
    }
    found = resent_twice(history)
    assert not found, report(f"resends {resent}", found, history)
    assert all(count >= 1 for count in resent.values()), f"too few deliberate resends to judge: {resent}"


def right_gone(history: History, mark: str) -> float:
    if mark not in history.marks:
        pytest.fail(f"the history never reached its '{mark}' step: {history.errors or history.notes}")
    return history.marks[mark] + RIGHT_GONE_WITHIN


def probe_violations(history: History, scenario: str) -> list[Violation]:
    return [
        Violation(
            f"{probe.what}: not as docs/api.md says",
            f"(probe at {history.at(probe.at):.2f}s)",
            probe.told
            + {True: " (connection closed)", False: " (connection left open)", None: ""}[probe.closed],
            "",
        )
        for probe in history.probes
        if probe.scenario == scenario and not probe.ok
    ]


def test_revoked_session_is_refused_within_2s(history: History) -> None:
    """2 s after `PATCH /v1/credentials/{username}` revoked it: the open session's next MAIL FROM is
    `421 4.7.0` and the connection closes, the API answers 401, and nothing sent after that is sent."""
    gone = right_gone(history, "revoked")
    found = probe_violations(history, "revocation")
    for logical in history.logicals:
        if logical.credential != "revoked" or not logical.attempts:
            continue
        if history.start + logical.attempts[0].started < gone:
            continue
        copies = history.copies_of(logical.token)
        if logical.accepted_id or copies:
            found.append(
                Violation(
                    "accepted or sent after the revocation",
                    logical.label,
                    logical.story(),
                    history.describe(copies),
                )
            )
    probes = sum(1 for probe in history.probes if probe.scenario == "revocation")
    assert not found, report(f"revocation ({probes} probes)", found, history)


def test_suppression_refused_at_rcpt_within_2s(history: History) -> None:
    """2 s after `POST /v1/suppressions` (for DOMAIN): RCPT TO the address is `550 5.1.1` on every session
    (opened before included), the API refuses it (alone) or leaves it out, and it receives nothing from
    DOMAIN after that (messages from the other domain may still reach it: a suppression is per domain)."""
    gone = right_gone(history, "suppressed")
    found = probe_violations(history, "suppression")
    for logical in history.logicals:
        if VICTIM not in logical.recipients or logical.domain != DOMAIN:  # suppressed for DOMAIN only
            continue
        for attempt in logical.attempts:
            if history.start + attempt.started < gone:
                continue
            if any(step.startswith(f"RCPT {VICTIM}: 2") for step in attempt.steps):
                found.append(
                    Violation("RCPT TO the suppressed address accepted", logical.label, logical.story(), "")
                )
                break
            if attempt.outcome == ACCEPTED and logical.recipients == [VICTIM]:
                found.append(
                    Violation("accepted for the suppressed address alone", logical.label, logical.story(), "")
                )
                break
    for copy in history.copies:
        if VICTIM in copy.rcpt_to and copy.mail_from.endswith("@" + DOMAIN) and copy.received_at >= gone:
            sender = history.logical_of(copy.token)
            label, story = (sender.label, sender.story()) if sender else (str(copy.token), "")
            seen = history.describe([copy])
            found.append(Violation("the suppressed address received a copy", label, story, seen))
    assert not found, report("suppression", found, history)


def test_paused_domain_is_refused_within_2s(history: History) -> None:
    """2 s after the guard paused a domain (as first seen through `GET /v1/domains/{domain}`): MAIL FROM it
    is `550 5.7.1 domain_paused`, the API 403 `domain_paused`, batch items `rejected`, and nothing from it
    reaches SES (its queued messages are held)."""
    if "paused" not in history.marks:
        pytest.skip(f"the guard did not pause {PAUSED_DOMAIN}: {history.notes or history.errors}")
    gone = right_gone(history, "paused")
    found = probe_violations(history, "pause")
    for logical in history.logicals:
        acceptance = logical.acceptance
        if logical.domain == PAUSED_DOMAIN and acceptance and history.start + acceptance.started >= gone:
            found.append(Violation("accepted from the paused domain", logical.label, logical.story(), ""))
    for copy in history.copies:
        if copy.mail_from.endswith("@" + PAUSED_DOMAIN) and copy.received_at >= gone:
            sender = history.logical_of(copy.token)
            label, story = (sender.label, sender.story()) if sender else (str(copy.token), "")
            seen = history.describe([copy])
            found.append(Violation("sent from the paused domain", label, story, seen))
    assert not found, report("pause", found, history)


def test_history_under_concurrency_and_faults(history: History) -> None:
    """Every accepted message (200/202, batch `queued`, SMTP 250) reached SES exactly once under the id its
    client was given (a second copy only in SES's ambiguous window, counted); one SES refused with 554 is
    `failed` with no copy; nothing stays unsettled after the drain; no copy is unexplained."""
    assert not history.errors, "the checker's clients broke:\n" + "\n".join(history.errors)
    replies = history.attempt_counts()
    exercised = {
        "451 4.7.1 over SMTP": replies["451 4.7.1"] >= 10,
        "429 over HTTPS": replies["429 rate_limited"] >= 5,
        "drops after the final dot": history.faults["drop"] + history.faults["accept_drop"] >= 2,
        "SES 4xx": sum(history.faults[code] for code in ("421", "451", "454")) >= 1,
        "SES 554": history.faults["554"] >= 1,
    }
    assert all(exercised.values()), (
        f"the history did not exercise {exercised}\n{report('history', [], history)}"
    )
    found, counts = accepted_not_sent_once(history)
    print(f"accepted messages: {dict(counts)}")  # shown with -s and on failure
    assert not found, report(f"accepted means sent once ({dict(counts)})", found, history)
