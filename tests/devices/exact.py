"""The device decoder without its typed fast path (`devices.structs`): the decisions as they were
before it, for the differential tests."""

from __future__ import annotations

from typing import Any

import devices.contract as contract
from devices.events import DeviceEvent


def exact_decode(topic: Any, payload: Any) -> DeviceEvent:
    saved = contract._TYPED
    contract._TYPED = frozenset()  # type: ignore[misc]
    try:
        return contract.decode(topic, payload)
    finally:
        contract._TYPED = saved  # type: ignore[misc]
