"""Every table, imported in one place so that Alembic and the tests see the whole schema."""

from app.accounts.models import RoleGrant, SmsCode, User
from app.activities.models import Activity, ActivitySignup
from app.apikeys.models import ApiKey
from app.audit.models import AuditEntry
from app.catalog.models import Category
from app.certificates.models import Certificate
from app.dispatch.models import Offer
from app.idempotency.models import IdempotencyRecord
from app.integrations.national.models import PushDeadLetter, PushState
from app.notifications.models import OutboxMessage
from app.orders.models import Complaint, Order, OrderEvent, OrderRating
from app.points.models import (
    PointsBalance,
    PointsEntry,
    PointsPolicy,
    Redemption,
    RewardItem,
)
from app.records.models import CorrectionRequest, ServiceRecord
from app.regions.models import Region
from app.scoring.models import (
    StarGrant,
    TeamStats,
    TeamTotal,
    VolunteerTotal,
)
from app.scoring.star_models import StarApplication, StarNotice, StarThresholds
from app.sites.models import Site
from app.sync.models import ChangeEvent, ChangeFeedHead
from app.teams.models import ServiceProject, Team, TeamMember, TeamSpecialty
from app.volunteers.models import Volunteer, VolunteerTransfer
from app.webhooks.models import WebhookDelivery, WebhookSubscription

__all__ = [
    "Activity",
    "ActivitySignup",
    "ApiKey",
    "AuditEntry",
    "Category",
    "Certificate",
    "ChangeEvent",
    "ChangeFeedHead",
    "Complaint",
    "CorrectionRequest",
    "IdempotencyRecord",
    "Offer",
    "Order",
    "OrderEvent",
    "OrderRating",
    "OutboxMessage",
    "PointsBalance",
    "PointsEntry",
    "PointsPolicy",
    "PushDeadLetter",
    "PushState",
    "Redemption",
    "Region",
    "RewardItem",
    "RoleGrant",
    "ServiceProject",
    "ServiceRecord",
    "Site",
    "SmsCode",
    "StarApplication",
    "StarGrant",
    "StarNotice",
    "StarThresholds",
    "Team",
    "TeamMember",
    "TeamSpecialty",
    "TeamStats",
    "TeamTotal",
    "User",
    "Volunteer",
    "VolunteerTotal",
    "VolunteerTransfer",
    "WebhookDelivery",
    "WebhookSubscription",
]
