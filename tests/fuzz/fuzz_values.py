"""Hostile values drawn from the fuzzer's bytes, and protobuf requests filled with them.

``Values`` turns a ``FuzzedDataProvider`` into the inputs a careless or hostile client sends:
the ids of the test config (this tenant's and another tenant's, so requests get past the first
checks), empty strings, control characters, unicode, strings far over the id limit, negative,
zero, extreme and in-range numbers, timestamps near the frozen service clock, unknown enum
values, and repeated fields and maps from empty to ten thousand elements. ``fill`` walks a
request's descriptor and sets each field (recursively) from it, so a field added to a proto is
fuzzed without a change here.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

# The frozen service clock of the fuzz world (ms since the epoch): timestamps cluster here.
NOW_MS = 1_780_000_000_000
# Ids of the test config (tests/server_helpers.py): tenant store, then tenant other's.
IDS = (
    *("anna", "ben", "sales", "support", "quick", "managers", "store", "pbx", "sup"),
    *("olga", "other-sales", "other"),
)
MAX_DEPTH = 4
_INT_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}
_FLOATS = (0.0, -1.0, 0.5, 1.0, 1e308, -1e308, float("nan"), float("inf"), float("-inf"))


class DataProvider(Protocol):
    """The part of ``atheris.FuzzedDataProvider`` used here."""

    def ConsumeBool(self) -> bool: ...
    def ConsumeIntInRange(self, lo: int, hi: int) -> int: ...
    def ConsumeUnicodeNoSurrogates(self, count: int) -> str: ...
    def ConsumeRegularFloat(self) -> float: ...
    def ConsumeBytes(self, count: int) -> bytes: ...
    def PickValueInList(self, values: list[Any]) -> Any: ...
    def remaining_bytes(self) -> int: ...


class Values:
    def __init__(self, fdp: DataProvider) -> None:
        self.fdp = fdp
        self.long_fields = 1  # long repeated fields left: one per input, never nested ones

    def choice(self, values: list[Any]) -> Any:
        return self.fdp.PickValueInList(values)

    def text(self) -> str:
        fdp = self.fdp
        kind = fdp.ConsumeIntInRange(0, 11)
        if kind <= 3:
            return str(self.choice(list(IDS)))
        if kind == 4:
            return ""
        if kind == 5:  # an id with a control character in it
            base = str(self.choice(list(IDS)))
            at = fdp.ConsumeIntInRange(0, len(base))
            bad = chr(self.choice([*range(32), 127]))
            return base[:at] + bad + base[at:]
        if kind == 6:
            return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 64))
        if kind == 7:  # over every id limit
            return "x" * fdp.ConsumeIntInRange(257, 5000)
        if kind == 8:  # a small set of fresh ids, so later requests find earlier calls
            return f"f{fdp.ConsumeIntInRange(0, 15)}"
        if kind == 9:
            return f"+49{fdp.ConsumeIntInRange(0, 10**9)}"
        if kind == 10:
            return "sip:" + str(self.choice(list(IDS))) + "@pbx.test"
        return str(self.choice(["\u202e", "\ufeff", "a b", "é", "😀", "..", "*", "%s%n", " "]))

    def integer(self, lo: int, hi: int, name: str = "") -> int:
        fdp = self.fdp
        kind = fdp.ConsumeIntInRange(0, 6)
        if kind == 0:
            return max(lo, min(hi, 0))
        if kind == 1:
            return max(lo, min(hi, fdp.ConsumeIntInRange(-3, 12)))
        if kind == 2:
            return lo
        if kind == 3:
            return hi
        if kind == 4 and name.endswith("_ms") and lo <= NOW_MS <= hi:
            offset = fdp.ConsumeIntInRange(-(10**10), 10**10)
            return max(lo, min(hi, NOW_MS + offset))
        return fdp.ConsumeIntInRange(lo, hi)

    def real(self) -> float:
        if self.fdp.ConsumeBool():
            return float(self.choice(list(_FLOATS)))
        return self.fdp.ConsumeRegularFloat()

    def count(self) -> int:
        """How many elements a repeated field gets: mostly a few, sometimes (once per input,
        so sizes do not multiply down nested fields) thousands."""
        kind = self.fdp.ConsumeIntInRange(0, 15)
        if kind == 15 and self.long_fields > 0:
            self.long_fields -= 1
            return self.fdp.ConsumeIntInRange(100, 10_000)
        return kind % 4

    def scalar(self, field: FieldDescriptor) -> Any:
        cpp = field.cpp_type
        if cpp == FieldDescriptor.CPPTYPE_STRING:
            if field.type == FieldDescriptor.TYPE_BYTES:
                return self.fdp.ConsumeBytes(self.fdp.ConsumeIntInRange(0, 64))
            return self.text()
        if cpp in _INT_RANGES:
            lo, hi = _INT_RANGES[cpp]
            return self.integer(lo, hi, field.name)
        if cpp == FieldDescriptor.CPPTYPE_BOOL:
            return self.fdp.ConsumeBool()
        if cpp in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
            value = self.real()
            if cpp == FieldDescriptor.CPPTYPE_FLOAT and abs(value) > 3.4e38 and value == value:
                value = float("inf") if value > 0 else float("-inf")
            return value
        if cpp == FieldDescriptor.CPPTYPE_ENUM:
            assert field.enum_type is not None
            known = [v.number for v in field.enum_type.values]
            return self.choice([*known, *known, 99, -1, 2**31 - 1])
        raise AssertionError(f"no value for {field.full_name}")


def fill(message: Message, values: Values, depth: int = 0) -> Message:
    """Sets a fuzzed subset of ``message``'s fields, recursively; gives ``message``."""
    # protobuf's upb descriptors behave as (and are typed beside) the Python ones
    for field in cast("list[FieldDescriptor]", message.DESCRIPTOR.fields):
        if values.fdp.remaining_bytes() == 0 or not values.fdp.ConsumeBool():
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            _fill_map(message, field, values, depth)
        elif field.is_repeated:
            _fill_repeated(message, field, values, depth)
        elif field.message_type is not None:
            if depth < MAX_DEPTH:
                fill(getattr(message, field.name), values, depth + 1)
                if not values.fdp.ConsumeBool():
                    getattr(message, field.name).SetInParent()
        else:
            setattr(message, field.name, values.scalar(field))
    return message


def _fill_repeated(message: Message, field: FieldDescriptor, values: Values, depth: int) -> None:
    n = values.count()
    target = getattr(message, field.name)
    if field.message_type is not None:
        if depth >= MAX_DEPTH:
            return
        distinct = min(n, 4)  # a long field repeats its first elements
        elements = [fill(target.add(), values, depth + 1) for _ in range(distinct)]
        for i in range(distinct, n):
            target.add().CopyFrom(elements[i % distinct])
        return
    if n <= 4:
        target.extend(values.scalar(field) for _ in range(n))
    else:
        target.extend([values.scalar(field)] * n)


def _fill_map(message: Message, field: FieldDescriptor, values: Values, depth: int) -> None:
    assert field.message_type is not None
    key_field = field.message_type.fields_by_name["key"]
    value_field = field.message_type.fields_by_name["value"]
    target = getattr(message, field.name)
    n = values.count()
    for i in range(n):
        key = values.scalar(key_field)
        if i >= 4:  # long maps: distinct keys without spending the fuzzer's bytes
            key = f"{key}{i}" if isinstance(key, str) else i
        if value_field.message_type is not None:
            if depth < MAX_DEPTH:
                fill(target[key], values, depth + 1)
        else:
            target[key] = values.scalar(value_field)
