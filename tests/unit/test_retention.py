"""Retention (docs/api.md, "Retention"): the expiry every item of a message carries, the counters' 400 days,
what a reader counts as expired, and the setting as template.yaml gives it to every function that writes a
message's items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from posthorn.adapters.dynamodb.retention import Retention
from posthorn.adapters.dynamodb.stats import counter_ttl
from posthorn.settings import SettingsError, WorkerSettings
from posthorn_local import template
from tests.support.fakes import FixedClock
from tests.unit.test_settings import complete

CREATED = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)


def test_a_messages_items_expire_its_retention_after_its_creation() -> None:
    retention = Retention(90, FixedClock())
    assert retention.ttl(CREATED) == int(datetime(2026, 5, 30, 12, 30, 15, tzinfo=UTC).timestamp())


def test_zero_days_writes_no_expiry_and_negative_days_are_refused() -> None:
    assert Retention(0, FixedClock()).ttl(CREATED) is None
    with pytest.raises(ValueError, match="negative"):
        Retention(-1, FixedClock())


def test_an_item_is_expired_from_its_ttl_on_as_dynamodb_counts_and_never_without_one() -> None:
    ttl = int(CREATED.timestamp())
    before, at = FixedClock(CREATED - timedelta(seconds=1)), FixedClock(CREATED.replace(microsecond=0))
    assert not Retention(90, before).expired({"ttl": ttl})
    assert Retention(90, at).expired({"ttl": ttl})
    assert Retention(90, at).expired_item({"ttl": {"N": str(ttl)}})
    assert not Retention(90, before).expired_item({"ttl": {"N": str(ttl)}})
    assert not Retention(90, at).expired({})
    assert not Retention(90, at).expired_item({"pk": {"S": "MSG#m1"}})


def test_readers_judge_by_the_stored_ttl_not_by_todays_setting() -> None:
    """An item written under 30 days is gone after 30 days even if the retention is now 0 (for ever)."""
    written = Retention(30, FixedClock()).ttl(CREATED)
    later = FixedClock(CREATED + timedelta(days=31))
    assert Retention(0, later).expired({"ttl": written})


def test_counters_are_kept_400_days_from_their_hour() -> None:
    hour = datetime(2026, 12, 1, 13, tzinfo=UTC)
    assert counter_ttl("2026-12-01T13") == int((hour + timedelta(days=400)).timestamp())


def test_the_retention_setting_defaults_to_90_days_and_takes_0_but_not_less() -> None:
    assert WorkerSettings.from_environment(complete(WorkerSettings)).message_retention_days == 90
    kept = WorkerSettings.from_environment({**complete(WorkerSettings), "MESSAGE_RETENTION_DAYS": "0"})
    assert kept.message_retention_days == 0
    with pytest.raises(SettingsError, match="MESSAGE_RETENTION_DAYS: Input should be greater than or equal"):
        WorkerSettings.from_environment({**complete(WorkerSettings), "MESSAGE_RETENTION_DAYS": "-1"})


def test_the_template_parameter_is_a_whole_number_of_days_from_0_default_90() -> None:
    parameter = template.load()["Parameters"]["MessageRetentionDays"]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 90, 0)


@pytest.mark.parametrize("logical_id", sorted(template.SETTINGS))
def test_every_function_that_writes_a_messages_items_is_given_the_parameter(logical_id: str) -> None:
    """All of them do (the webhook sender rewrites a delivery on each attempt): a function left on the
    default would stamp another expiry than the stack's."""
    assert template.environment_of(logical_id)["MESSAGE_RETENTION_DAYS"] == {"Ref": "MessageRetentionDays"}


@pytest.mark.parametrize("table", ["Table", "WebhooksTable"])
def test_both_tables_expire_items_by_their_ttl_attribute(table: str) -> None:
    properties = template.resources()[table]["Properties"]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
