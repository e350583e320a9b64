"""The shared error responses for API routers (defined in `care_hub.kernel.responses`, where the
family portal can reach them too)."""

from care_hub.kernel.responses import DESCRIPTIONS, ErrorPublic, errors

__all__ = ["DESCRIPTIONS", "ErrorPublic", "errors"]
