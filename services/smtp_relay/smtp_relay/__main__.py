"""`python -m smtp_relay`: the relay's process (the container's command; the local stack starts the same
`build_relay` in its own process). Adapters come from `posthorn.wiring`, as every entry point's do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from posthorn import wiring
from posthorn.settings import SubmissionSettings
from smtp_relay import tls
from smtp_relay.handler import RelayHandler
from smtp_relay.lookups import RecentDomains, RecentSuppressions, StoredCredentials
from smtp_relay.protection import AuthThrottle, ConnectionGate, MemoryBudget
from smtp_relay.server import Listener, Relay
from smtp_relay.settings import RelaySettings

log = logging.getLogger("smtp_relay")


def certificates(settings: RelaySettings) -> tls.Certificates:
    if settings.tls_secret_id:
        secret_id = settings.tls_secret_id
        return tls.Certificates(tls.from_secret(lambda: wiring.read_secret(secret_id)))
    if settings.tls_cert_file and settings.tls_key_file:
        return tls.Certificates(tls.from_files(settings.tls_cert_file, settings.tls_key_file))
    raise SystemExit(
        "the relay needs a certificate: RELAY_TLS_SECRET_ID, or RELAY_TLS_CERT_FILE and _KEY_FILE"
    )


def build_relay(
    settings: RelaySettings, certs: tls.Certificates, threads: ThreadPoolExecutor, writes: ThreadPoolExecutor
) -> Relay:
    """The relay wired to the process's adapters; `start()` it on a running loop. `threads` run the store
    calls of the conversation (the event loop never waits on one), `writes` the intake's writes made side
    by side: a pool of their own, since the intake runs on `threads` and waits for them. It fails at once,
    naming them, when the environment lacks a variable the send path needs (`SubmissionSettings`)."""
    wiring.settings(SubmissionSettings)
    gate = ConnectionGate(settings.max_connections, settings.max_connections_per_credential)
    domains = RecentDomains(wiring.domains(), settings.cache_seconds)
    suppressions = RecentSuppressions(wiring.suppressions(), settings.cache_seconds)
    handler = RelayHandler(
        credentials=StoredCredentials(
            wiring.credentials(), wiring.pepper, wiring.clock(), settings.cache_seconds
        ),
        domains=domains,
        suppressions=suppressions,
        # The checks at the end of DATA read the same recent domain records and suppression lists as MAIL
        # FROM and RCPT TO.
        intake=lambda: replace(wiring.intake_context(writes), domains=domains, suppressions=suppressions),
        threads=threads,
        gate=gate,
        throttle=AuthThrottle(settings.max_auth_failures_per_ip, settings.auth_failure_window_seconds),
        max_auth_failures=settings.max_auth_failures_per_connection,
    )
    return Relay(
        Listener(handler, gate, MemoryBudget(settings.data_memory_bytes)),
        host=settings.host,
        hostname=settings.hostname,
        tls=certs.context,
        starttls_ports=settings.starttls_ports,
        tls_ports=settings.tls_ports,
        health_port=settings.health_port,
        idle_timeout=settings.idle_timeout_seconds,
        proxy_protocol=settings.proxy_protocol,
    )


async def reload_certificates(
    certs: tls.Certificates, every_seconds: float, threads: ThreadPoolExecutor
) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await loop.run_in_executor(threads, certs.reload)
        except Exception:  # keep serving the certificate we have
            log.warning("could not read the certificate again", exc_info=True)


async def serve(settings: RelaySettings) -> None:
    threads = ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="relay")
    writes = ThreadPoolExecutor(max_workers=settings.threads * 4, thread_name_prefix="relay-writes")
    certs = certificates(settings)
    relay = build_relay(settings, certs, threads, writes)
    await relay.start()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    reloading = asyncio.create_task(reload_certificates(certs, settings.tls_reload_seconds, threads))
    await stopped.wait()
    log.info("stopping: no new connections, finishing transactions in flight")
    reloading.cancel()
    await relay.stop(settings.stop_grace_seconds)
    threads.shutdown(wait=True)
    writes.shutdown(wait=True)
    log.info("stopped")


def configure_logging() -> None:
    """JSON lines (Powertools' Logger) for the relay's logger; aiosmtpd's own log, which names every
    command's arguments, only from warnings up."""
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    from posthorn import logs

    source = logs.service_logger()
    copy_config_to_registered_loggers(source_logger=source, include={"smtp_relay"})
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def main() -> None:
    configure_logging()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(RelaySettings.from_environment()))


if __name__ == "__main__":
    main()
