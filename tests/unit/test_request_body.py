"""`json_object`, the one rule for what a JSON request body is: what RFC 8259 does not allow is refused
even where Python's parser reads it."""

from __future__ import annotations

import pytest

from send_api.request_body import BodyNotJson, json_object


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('{"subject": "a", "subject": "b"}', 'the key "subject" is given twice'),
        ('{"to": [{"email": "a@b.test", "email": "c@b.test"}]}', 'the key "email" is given twice'),
        ('{"n": NaN}', "NaN is not a JSON number"),
        ('{"n": Infinity}', "Infinity is not a JSON number"),
        ('{"n": [-Infinity]}', "-Infinity is not a JSON number"),
        ('{"n": -1e400}', 'a number too large for a double: "-1e400"'),
    ],
)
def test_repeated_keys_and_non_finite_numbers_are_not_json(body: str, said: str) -> None:
    with pytest.raises(BodyNotJson) as caught:
        json_object(body)
    assert said in caught.value.msg


def test_a_long_repeated_key_is_shown_cut_short() -> None:
    key = "k" * 1000
    with pytest.raises(BodyNotJson) as caught:
        json_object(f'{{"{key}": 1, "{key}": 2}}')
    assert len(caught.value.msg) < 200


def test_same_key_in_sibling_objects_and_finite_numbers_are_fine() -> None:
    body = '{"a": {"x": 1}, "b": {"x": 2.5e10}, "c": [1e308, -0.0]}'
    assert json_object(body) == {"a": {"x": 1}, "b": {"x": 2.5e10}, "c": [1e308, -0.0]}
