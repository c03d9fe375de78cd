"""Schemathesis against the local stack, from the committed document (docs/openapi.json), with every check
on: any 5xx, any answer off the document (status, headers, content type, body), a valid request refused,
an invalid one accepted, a method the document does not list answered other than 405, auth ignored, fails
the run. Bounded so the whole run takes a few minutes on 2 cores: at most `MAX_EXAMPLES` cases per
operation and phase, `RUNS`' seconds, a fixed seed (the same cases every run; change it to explore).

The hooks (tests/e2e/schemathesis_hooks.py) make positive cases ones the API can accept (a From on the
credential's domain, recipients on SES's simulator); the figures (requests, operations, 5xx) are counted
from the local server's own access log, so they are what the API saw."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from posthorn_local.stack import LocalStack
from tests.e2e.conftest import ADMIN_KEY, SENDER_DOMAIN, Http

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 25
# (generation mode, seconds, the one check left out): valid data the API must accept, then schema-breaking
# data it must refuse. Each phase of a run still sends some cases of the other kind (the examples phase
# valid ones, the coverage phase a few invalid ones): the positive run's hooks make even those valid, and
# the negative run leaves the valid ones as generated, so each run leaves out the one check whose premise
# its hooks change; each check runs in the other run, every other check in both.
RUNS = (
    ("positive", 90, "negative_data_rejection"),
    ("negative", 75, "positive_data_acceptance"),
)
SEED = 13
SOURCES = ["layers/posthorn", "functions/send", "functions/bounce", "functions/worker", "local", "."]
ACCESS_LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<route>\S+(?: \S+)?) (?P<status>\d{3}) \(")


class AccessLog(logging.Handler):
    """The local server's access lines (`POST /v1/email 200 (12 ms)`): what the API actually answered."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.answers: list[tuple[str, str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = ACCESS_LINE.match(record.getMessage())
        if found:
            self.answers.append((found["method"], found["route"], int(found["status"])))


@pytest.fixture
def access_log() -> Iterator[AccessLog]:
    handler = AccessLog()
    server_logger = logging.getLogger("posthorn_local.http_server")
    level = server_logger.level
    server_logger.setLevel(logging.INFO)
    server_logger.addHandler(handler)
    yield handler
    server_logger.removeHandler(handler)
    server_logger.setLevel(level)


def fuzzing_credential(http: Http) -> str:
    """Every permission on the e2e domain, so each operation is reached past authorization."""
    assert http.post("/v1/domains", {"domain": SENDER_DOMAIN}, api_key=ADMIN_KEY).status in (200, 201)
    created = http.post(
        "/v1/credentials",
        {"name": "fuzz", "domains": [SENDER_DOMAIN], "permissions": ["send", "read", "files", "admin"]},
        api_key=ADMIN_KEY,
    )
    assert created.status == 201, created.body
    return str(created.json["api_key"])


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(
    stack: LocalStack, http: Http, access_log: AccessLog, tmp_path: Path
) -> None:
    api_key = fuzzing_credential(http)
    reports = []
    for mode, seconds, left_out in RUNS:
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str(ROOT / source) for source in SOURCES),
            "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
            "POSTHORN_FUZZ_MODE": mode,
            "POSTHORN_FUZZ_DOMAIN": SENDER_DOMAIN,
            "POSTHORN_FUZZ_USERNAME": api_key.partition(".")[0],
            "NO_COLOR": "1",
        }
        command = [
            str(Path(sys.executable).parent / "st"),
            "run",
            str(ROOT / "docs" / "openapi.json"),
            f"--url={stack.api_url}",
            f"--header=Authorization: Bearer {api_key}",
            # MailPace's surface reads its own header (the ZeptoMail surface takes Posthorn's Bearer too).
            f"--header=MailPace-Server-Token: {api_key}",
            f"--header=X-Postmark-Server-Token: {api_key}",  # the Postmark surface's key
            f"--header=X-DreamFactory-API-Key: {api_key}",
            "--checks=all",
            f"--exclude-checks={left_out}",
            f"--mode={mode}",
            f"--max-examples={MAX_EXAMPLES}",
            f"--max-time={seconds}",
            f"--seed={SEED}",
            # One worker: with two, CPython 3.11 can fail ast.parse in Hypothesis ("AST constructor recursion
            # depth mismatch"), an error of the run, not of the API.
            "--workers=1",
            "--request-timeout=20",
            # The credential is given above; negative Authorization values would be overwritten by it.
            "--generation-with-security-parameters=false",
            # Path parameters without a pattern (file keys, domains) make Hypothesis discard many drafts.
            "--suppress-health-check=filter_too_much",
            "--generation-database=none",
            "--output-sanitize=false",
            "--no-color",
        ]
        run = subprocess.run(  # noqa: S603 - our own interpreter's schemathesis, fixed arguments
            command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=seconds + 240
        )
        reports.append((mode, run.returncode, run.stdout + run.stderr))

    answers = access_log.answers
    operations = {(method, route) for method, route, _ in answers if route.startswith("/v1/")}
    server_errors = [answer for answer in answers if answer[2] >= 500]
    print(f"\nSchemathesis: {len(answers)} requests, {len(operations)} operations, {len(server_errors)} 5xx")
    for mode, returncode, report in reports:
        summary = report[report.rfind("SUMMARY") :] if "SUMMARY" in report else report[-3000:]
        print(f"--- {mode} cases: exit {returncode}\n{summary}")
    assert server_errors == []
    assert [(mode, code) for mode, code, _ in reports] == [(mode, 0) for mode, _, _ in RUNS], "\n".join(
        report[-15000:] for _, code, report in reports if code
    )
    assert len(operations) >= 17


# --------------------------------------------------------------------- what the fuzzing found, kept fixed
def test_a_method_token_the_server_does_not_know_is_a_json_405_not_the_stdlib_501(stack: LocalStack) -> None:
    # Schemathesis sends QUERY (and other tokens) to every path; the stdlib answered 501 with its own body.
    from tests.e2e.test_local_stack import exchange

    code, headers, body = exchange(stack, b"QUERY /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", "QUERY")
    assert code == 405
    assert headers["content-type"].startswith("application/json")
    assert b'"method_not_allowed"' in body


def test_allow_lists_the_methods_of_the_most_specific_resource(http: Http) -> None:
    # `/v1/files/uploads` also matches `/v1/files/{file_key}`; its Allow listed that resource's GET, DELETE.
    answer = http.request("OPTIONS", "/v1/files/uploads")
    assert answer.status == 405
    assert answer.headers["Allow"] == "POST"
    assert http.request("PUT", "/v1/files/fk_1").headers["Allow"] == "DELETE, GET"
