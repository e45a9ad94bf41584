"""seed the service catalog (服务菜单) named in the planning documents

Revision ID: 5e1c0a7b2d10
Revises: 44003398687c
Create Date: 2026-11-22 12:40:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "5e1c0a7b2d10"
down_revision: str | None = "44003398687c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORIES = [
    ("theory_talk", "理论宣讲", "Theory and policy talks", "百姓宣讲、专题党课"),
    ("policy_outreach", "惠民政策普及", "Policy outreach", "惠民政策解读与普及"),
    ("party_history", "党史教育", "Party history education", ""),
    ("legal_aid", "法律援助", "Legal aid and mediation", "法律咨询、矛盾调解"),
    ("culture_arts", "文化文艺", "Culture and arts", "文艺演出、群众文化活动"),
    ("science_outreach", "科学普及", "Science outreach and farm technology", "科普、农业技术"),
    ("medical_fitness", "医疗健身", "Free clinics and fitness guidance", "义诊、健身指导"),
    ("health_education", "健康教育", "Health education and epidemic prevention", "卫生防疫"),
    ("digital_elderly", "智慧助老", "Helping the elderly with phones and online services", ""),
    ("family_education", "家庭教育", "Family education", ""),
    ("youth", "立德树人", "Children and youth", "青少年成长关爱"),
    ("civility", "文明乡风", "Civic customs", "移风易俗"),
    ("safety", "安全宣传", "Safety outreach", "防火、防燃气事故、防溺水、防诈骗"),
    ("care", "关爱行动", "Care for the elderly, left-behind children and disabled people",
     "代购、探访、理发、家电维修、家政"),
    ("poverty_relief", "扶贫帮困", "Poverty relief", ""),
    ("civic_sanitation", "创文巩卫", "Civic sanitation and order", ""),
    ("environment", "环境保护", "Environmental protection and waste sorting", "垃圾分类"),
    ("traffic", "文明交通", "Civil traffic", ""),
    ("tutoring", "助学支教", "Tutoring and school support", ""),
    ("emergency", "应急救援", "Emergency rescue", ""),
]

category = sa.table(
    "category",
    sa.column("code", sa.String),
    sa.column("name_zh", sa.String),
    sa.column("name_en", sa.String),
    sa.column("description", sa.String),
    sa.column("sort_order", sa.Integer),
    sa.column("active", sa.Boolean),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    now = datetime.now(UTC)
    op.bulk_insert(
        category,
        [
            {
                "code": code,
                "name_zh": name_zh,
                "name_en": name_en,
                "description": description,
                "sort_order": index * 10,
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for index, (code, name_zh, name_en, description) in enumerate(CATEGORIES)
        ],
    )


def downgrade() -> None:
    op.execute(category.delete().where(category.c.code.in_([row[0] for row in CATEGORIES])))
