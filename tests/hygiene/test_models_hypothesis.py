"""Property tests over every request model: arbitrary JSON-shaped input, with arbitrary
Unicode (lone surrogates, controls, noncharacters) in every text, either validates or is a
pydantic ``ValidationError`` (which the doors turn into a 422), never any other exception;
and whatever validates survives a JSON round trip unchanged.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from memsvc import domain
from tests.hygiene.test_request_models import REQUEST_MODELS

# Every code point, surrogates included: the JSON a client sends can carry `\ud800`.
ANY_CHAR = st.characters(exclude_categories=())
TRICKY = st.sampled_from(
    ["", " ", "\x00", "\ud83d", "\udc00x", "\ufffe", "\u202e", "a" * 70, "acme", "/src/a"]
)
TEXT = st.one_of(st.text(ANY_CHAR, max_size=40), TRICKY)
# Values the models do accept somewhere, so many examples get past validation and the
# round trip is exercised too: enum members, ids of the right shape, small numbers.
ENUM_VALUES = st.sampled_from(
    sorted(
        {
            member.value
            for enum in vars(domain).values()
            if isinstance(enum, type) and issubclass(enum, StrEnum) and enum is not StrEnum
            for member in enum
        }
    )
)
SCALAR = st.one_of(
    TEXT,
    ENUM_VALUES,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
JSON_VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=12,
)
EXAMPLES = 60


def _payloads(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts over the model's own field names (any subset, any values) plus stray keys."""
    fields = {name: JSON_VALUE for name in model.model_fields}
    known = st.fixed_dictionaries({}, optional=fields)
    stray = st.dictionaries(TEXT, JSON_VALUE, max_size=2)
    return st.one_of(known, st.builds(lambda a, b: b | a, known, stray))


@pytest.mark.parametrize("model", REQUEST_MODELS, ids=lambda m: m.__name__)
def test_any_input_to_a_request_model_validates_or_is_a_validation_error(
    model: type[BaseModel],
) -> None:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(data=_payloads(model))
    def check(data: dict[str, Any]) -> None:
        try:
            parsed = model.model_validate(data)
        except ValidationError:
            return  # the one acceptable refusal: the doors map it to 422 / a ToolError
        again = model.model_validate_json(parsed.model_dump_json())
        assert again == parsed

    check()


@pytest.mark.parametrize("model", REQUEST_MODELS, ids=lambda m: m.__name__)
def test_any_json_text_to_a_request_model_validates_or_is_a_validation_error(
    model: type[BaseModel],
) -> None:
    # Raw bodies as the REST door reads them: not JSON, JSON of any shape, bad escapes.
    body = st.one_of(
        st.text(ANY_CHAR, max_size=60),
        st.sampled_from(['{"a":"\\ud800"}', '{"x":', "[]", "null", '{"a":1e999}', "\ufeff{}"]),
        _payloads(model).map(json.dumps),
    )

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None)
    @given(raw=body)
    def check(raw: str) -> None:
        try:
            model.model_validate_json(raw)
        except ValidationError:
            return

    check()
