"""The arithmetic figures 10 and 11 rest on (bench/meter.py, bench/partitions.py, bench/cost.py): DynamoDB's
item sizes and capacity units as its documentation states them, index writes, the per-second scaling of
partition keys, and the redaction of keys. The benchmarks themselves are run by `make bench`, never here."""

from __future__ import annotations

import pytest

from bench.cost import redact, resolve
from bench.meter import (
    Index,
    TableShape,
    chunks,
    index_entry,
    item_size,
    item_write,
    number_size,
    read_units,
    stored_bytes,
    value_size,
    write_units,
)
from bench.partitions import per_second, shard_zero

TABLE = TableShape(
    "t",
    ("pk", "sk"),
    (
        Index("gsi1", ("gsi1pk", "gsi1sk"), "ALL"),
        Index("lean", ("lpk",), "INCLUDE", ("kept",)),
    ),
)
KEY = {"pk": {"S": "MSG#1"}, "sk": {"S": "MSG"}}


def item(**values: str) -> dict[str, dict[str, str]]:
    return {**KEY, **{name: {"S": value} for name, value in values.items()}}


@pytest.mark.parametrize(
    ("number", "size"),
    [("0", 2), ("7", 2), ("12345", 4), ("1000", 2), ("0.001", 2), ("-1.5", 3), ("123456789012", 7)],
)
def test_a_number_takes_a_byte_per_two_significant_digits_and_one_more(number: str, size: int) -> None:
    assert number_size(number) == size


def test_values_are_sized_as_dynamodb_documents_them() -> None:
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"B": b"\x00\x01\x02"}) == 3
    assert value_size({"BOOL": True}) == value_size({"NULL": True}) == 1
    assert value_size({"SS": ["ab", "c"]}) == 3
    # A list or map: 3 bytes, and each element's size plus 1 (a map's names too).
    assert value_size({"L": [{"N": "1"}, {"BOOL": False}]}) == 3 + (2 + 1) + (1 + 1)
    assert value_size({"M": {"ab": {"S": "xyz"}}}) == 3 + (2 + 3 + 1)
    assert item_size({"pk": {"S": "MSG#1"}, "n": {"N": "10"}}) == (2 + 5) + (1 + 2)
    assert item_size(None) == 0


def test_units_round_up_and_never_go_under_one() -> None:
    assert [write_units(size) for size in (0, 1, 1024, 1025, 3000)] == [1, 1, 1, 2, 3]
    assert read_units(0, consistent=False) == 0.5
    assert read_units(4096, consistent=False) == 0.5
    assert read_units(4097, consistent=True) == 2.0
    assert [chunks(size) for size in (0, 65536, 65537, 200_000)] == [1, 1, 2, 4]


def test_an_index_holds_its_projection_and_nothing_of_an_item_without_its_keys() -> None:
    full = item(gsi1pk="SES#1", gsi1sk="MSG", lpk="L#1", kept="yes", other="no")
    assert index_entry(full, TABLE, TABLE.indexes[0]) == full
    assert set(index_entry(full, TABLE, TABLE.indexes[1]) or {}) == {"pk", "sk", "lpk", "kept"}
    assert index_entry(item(other="no"), TABLE, TABLE.indexes[0]) is None


def units(written: list) -> list[tuple[str | None, str, float]]:
    return [(w.index, w.partition, w.units) for w in written]


def test_a_new_item_outside_every_index_costs_its_own_write_only() -> None:
    assert units(item_write(TABLE, KEY, None, item(a="x"), applied=True)) == [(None, "MSG#1", 1)]


def test_gaining_an_index_key_puts_an_entry_and_changing_it_moves_the_entry() -> None:
    before = item(a="x")
    sent = item(a="x", gsi1pk="SES#1", gsi1sk="MSG")
    assert units(item_write(TABLE, KEY, before, sent, applied=True)) == [
        (None, "MSG#1", 1),
        ("gsi1", "SES#1", 1),
    ]
    moved = item(a="x", gsi1pk="SES#2", gsi1sk="MSG")
    assert units(item_write(TABLE, KEY, sent, moved, applied=True)) == [
        (None, "MSG#1", 1),
        ("gsi1", "SES#1", 1),  # the old entry deleted
        ("gsi1", "SES#2", 1),  # the new one put
    ]
    assert units(item_write(TABLE, KEY, sent, before, applied=True)) == [
        (None, "MSG#1", 1),
        ("gsi1", "SES#1", 1),
    ]


def test_a_change_outside_an_index_projection_does_not_write_it_and_inside_it_does() -> None:
    before = item(lpk="L#1", kept="a", other="a")
    other = item(lpk="L#1", kept="a", other="b")
    kept = item(lpk="L#1", kept="b", other="a")
    assert units(item_write(TABLE, KEY, before, other, applied=True)) == [(None, "MSG#1", 1)]
    assert units(item_write(TABLE, KEY, before, kept, applied=True)) == [
        (None, "MSG#1", 1),
        ("lean", "L#1", 1),
    ]
    # An index that projects everything is rewritten by any change.
    with_all = item(gsi1pk="SES#1", gsi1sk="MSG", other="a")
    changed = item(gsi1pk="SES#1", gsi1sk="MSG", other="b")
    assert units(item_write(TABLE, KEY, with_all, changed, applied=True)) == [
        (None, "MSG#1", 1),
        ("gsi1", "SES#1", 1),
    ]


def test_the_larger_item_sets_the_units_and_a_failed_condition_still_costs_the_existing_item() -> None:
    small, large = item(body="x"), item(body="x" * 3000)
    assert units(item_write(TABLE, KEY, small, large, applied=True)) == [(None, "MSG#1", 3)]
    assert units(item_write(TABLE, KEY, large, small, applied=True)) == [(None, "MSG#1", 3)]
    assert units(item_write(TABLE, KEY, large, large, applied=False)) == [(None, "MSG#1", 3)]
    assert units(item_write(TABLE, KEY, None, None, applied=False)) == [(None, "MSG#1", 1)]
    assert units(item_write(TABLE, KEY, None, small, applied=True, transactional=True)) == [
        (None, "MSG#1", 2)
    ]


def test_storage_counts_100_bytes_for_the_item_and_for_each_index_entry() -> None:
    stored = item(gsi1pk="SES#1", gsi1sk="MSG")
    own, entries = stored_bytes(TABLE, stored)
    assert own == item_size(stored) + 100
    assert entries == item_size(stored) + 100  # gsi1 projects it all; it has no lpk
    assert stored_bytes(TABLE, item(a="x"))[1] == 0


def test_a_shared_key_scales_with_the_rate_and_a_messages_own_key_does_not() -> None:
    spent = [("STATS#d", "STATS#d", 1.0)] * 30
    spent += [("MSG#<id>", "MSG#1", 4.0), ("MSG#<id>", "MSG#2", 3.0)]
    spent += [("C#<n>", "C#1", 4.0), ("C#<n>", "C#2", 6.0)]  # shards share the units evenly
    rates = per_second(spent, 10, 2000, own=lambda kind: "<id>" in kind)
    assert rates == {"STATS#d": 6000.0, "MSG#<id>": 4.0, "C#<n>": 1000.0}


def test_an_unsharded_key_is_averaged_as_shard_0_of_its_sharded_kind() -> None:
    spent = [("STATS#<domain>", "STATS#d", 9.0)]  # shard 0 took more than its share in a short run
    spent += [("STATS#<domain>#<n>", f"STATS#d#{n}", 1.0) for n in range(1, 10)]
    spent += [
        ("STATS#<domain>#<n>#T#<tag>", "STATS#d#3#T#t", 2.0),
        ("STATS#<domain>#T#<tag>", "STATS#d#T#t", 4.0),
    ]
    spent += [("RATE#<ph_id>", "RATE#p", 1.0)]
    rates = per_second(shard_zero(spent), 10, 2000, own=lambda kind: False)
    assert rates == {"STATS#<domain>#<n>": 360.0, "STATS#<domain>#<n>#T#<tag>": 600.0, "RATE#<ph_id>": 200.0}


def test_keys_are_shown_without_names_ids_or_times() -> None:
    assert redact("STATS#example.com#T#receipt") == "STATS#<domain>#T#<tag>"
    assert redact("LIST#example.com#R#user1@example.net") == "LIST#<domain>#R#<address>"
    assert redact("IDEM#ph_0123abcd#" + "ab" * 32) == "IDEM#<ph_id>#<hash>"
    assert redact("MSG#msg_01JTESTFIXTURE0000000000") == "MSG#<message_id>"
    assert redact("SES#010001234567890a-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000") == "SES#<ses_id>"
    assert redact("LIST#example.com#S#queued") == "LIST#<domain>#S#queued"
    assert redact("STATS#example.com#7") == "STATS#<domain>#<n>"


def test_template_conditions_resolve_from_parameter_defaults_or_given_values() -> None:
    assert resolve({"Condition": "SmtpRelayEnabled"}) is False
    assert resolve({"Condition": "SmtpRelayEnabled"}, {"EnableSmtpRelay": "true"}) is True
    assert resolve("literal") == "literal"
