"""Import every ORM module so Base.metadata is complete (alembic and tests import this)."""

from alerts import models as alert_models
from care_hub.api import webpush as push_models
from care_hub.kernel import models as care_models
from care_hub.kernel.db import Base
from care_records import models as care_record_models
from devices import models as device_models
from video import models as video_models

__all__ = [
    "Base",
    "alert_models",
    "care_models",
    "care_record_models",
    "device_models",
    "push_models",
    "video_models",
]
