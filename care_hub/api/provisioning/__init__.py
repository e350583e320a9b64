"""Provisioning: facilities, floors, rooms, residents, devices and users. Admins create, edit,
discharge and unbind; caregivers read their own facility; families read their relatives.

Nothing with a history is deleted: a discharged resident keeps their alerts, trail and records
(`settings.discharged_at`, and they leave the screens); an unbound device keeps its binding
history. Only what nothing refers to may be deleted (an empty room, an empty facility).

One router per resource, included in this order (a literal path before its parameterised one).
"""

from fastapi import APIRouter

from care_hub.api.provisioning import devices, facilities, residents, rooms, users

router = APIRouter()
for module in (facilities, rooms, residents, devices, users):
    router.include_router(module.router)
