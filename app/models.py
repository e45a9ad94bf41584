"""Every table, imported in one place so that Alembic and the tests see the whole schema."""

from app.accounts.models import RoleGrant, SmsCode, User
from app.audit.models import AuditEntry
from app.catalog.models import Category
from app.regions.models import Region
from app.sites.models import Site
from app.teams.models import Team, TeamMember, TeamSpecialty
from app.volunteers.models import Volunteer

__all__ = [
    "AuditEntry",
    "Category",
    "Region",
    "RoleGrant",
    "Site",
    "SmsCode",
    "Team",
    "TeamMember",
    "TeamSpecialty",
    "User",
    "Volunteer",
]
