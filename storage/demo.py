"""Demo data: one community health centre, its family-doctor team, a referral hospital and six residents.

Dates are laid out relative to `today`, so the demo always has follow-ups due and a consult today.
Every demo account's password is `jiayi-demo`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from consult.consult import ConsultKind, ConsultMode, ConsultStatus, Participant, ParticipantRole
from consult.contract import ContractStatus, ServicePackage, one_year_from
from consult.organization import OrganizationKind
from consult.proxy import Relation
from consult.referral import SharedResult
from consult.resident import Sex, id_number_check_digit
from consult.roles import ProxyScope, Role
from storage import audit, consults, contracts, followups, referrals, residents
from storage.crypto import FieldProtector
from storage.models import (
    CareTeamRow,
    OrganizationRow,
    PractitionerRow,
    TeamMembershipRow,
    UserRow,
)
from storage.passwords import hash_password

DEMO_PASSWORD = "jiayi-demo"
DEMO_USERS = ("doctor", "nurse", "specialist", "compliance", "admin", "resident", "proxy")


def demo_id_number(birth: date, serial: int, region: str = "310112") -> str:
    """A well-formed (checksummed) but fictitious ID number for a demo resident."""
    first17 = f"{region}{birth:%Y%m%d}{serial:03d}"
    return first17 + id_number_check_digit(first17)


def _born(today: date, years: int, month: int, day: int) -> date:
    return date(today.year - years, month, day)


async def is_empty(session: AsyncSession) -> bool:
    """True when no user exists yet (a fresh database)."""
    return (await session.scalar(select(func.count()).select_from(UserRow))) == 0


async def load(
    session: AsyncSession, protector: FieldProtector, today: date, zone: str = "Asia/Shanghai"
) -> None:
    """Insert the demo data set into an empty database, inside the caller's transaction."""
    password = hash_password(DEMO_PASSWORD)
    now = datetime.now(UTC)

    centre = OrganizationRow(
        name="江川路社区卫生服务中心（演示）", kind=OrganizationKind.COMMUNITY_HEALTH_CENTRE.value
    )
    hospital = OrganizationRow(name="市第一人民医院（演示）", kind=OrganizationKind.REFERRAL_HOSPITAL.value)
    session.add_all([centre, hospital])
    await session.flush()

    def practitioner(name: str, kind: str, org: OrganizationRow, years: int, dept: str) -> PractitionerRow:
        return PractitionerRow(
            name=name,
            kind=kind,
            organization_id=org.id,
            years_of_practice=years,
            department=dept,
            real_name_verified=True,
            verified_at=now,
            licence_number=f"1103100{len(name)}{years:02d}0{kind[:1]}",
        )

    wang = practitioner("王建国", "doctor", centre, 18, "全科")
    li = practitioner("李敏", "doctor", centre, 6, "全科")
    zhang = practitioner("张丽", "nurse", centre, 9, "社区护理")
    chen = practitioner("陈志远", "specialist", hospital, 15, "心内科")
    session.add_all([wang, li, zhang, chen])
    await session.flush()

    team = CareTeamRow(
        name="王建国家庭医生团队",
        organization_id=centre.id,
        # The team's wording of the emergency path, given in every after-hours auto-reply.
        off_duty_message=(
            "如有胸痛、呼吸困难、昏迷等紧急情况，请立即拨打 120，"
            "或前往市第一人民医院急诊（本中心夜间不接诊）。"
        ),
    )
    session.add(team)
    await session.flush()
    joined = today - timedelta(days=800)
    session.add_all(
        [
            TeamMembershipRow(team_id=team.id, practitioner_id=wang.id, role="leader", joined_on=joined),
            TeamMembershipRow(team_id=team.id, practitioner_id=li.id, role="doctor", joined_on=joined),
            TeamMembershipRow(team_id=team.id, practitioner_id=zhang.id, role="nurse", joined_on=joined),
        ]
    )

    # Six residents: (name, sex, birth, phone, address, tags, allergies)
    people = [
        (
            "赵秀兰",
            Sex.FEMALE,
            _born(today, 78, 3, 12),
            "13900000001",
            "江川路 100 弄 3 号 201 室",
            ("高血压", "糖尿病", "65岁以上", "独居"),
            ("青霉素",),
        ),
        (
            "刘德明",
            Sex.MALE,
            _born(today, 66, 8, 2),
            "13900000002",
            "江川路 100 弄 5 号 102 室",
            ("高血压", "65岁以上"),
            (),
        ),
        (
            "孙美华",
            Sex.FEMALE,
            _born(today, 71, 11, 30),
            "13900000003",
            "鹤庆路 20 弄 1 号 501 室",
            ("高血压", "65岁以上"),
            (),
        ),
        (
            "吴国强",
            Sex.MALE,
            _born(today, 58, 5, 18),
            "13900000004",
            "沧源路 8 号 302 室",
            ("糖尿病",),
            ("磺胺",),
        ),
        (
            "周晓燕",
            Sex.FEMALE,
            _born(today, 29, 1, 9),
            "13900000005",
            "东川路 66 弄 2 号 601 室",
            ("孕产妇",),
            (),
        ),
        (
            "郑小宝",
            Sex.MALE,
            _born(today, 6, 6, 1),
            "13900000006",
            "江川路 100 弄 3 号 202 室",
            ("儿童",),
            (),
        ),
    ]
    rows = []
    for serial, (name, sex, born, phone, address, tags, allergies) in enumerate(people, start=11):
        serial_digit = serial * 2 + (1 if sex is Sex.MALE else 0)  # odd 17th digit for men, even for women
        rows.append(
            await residents.add(
                session,
                protector,
                name=name,
                sex=sex,
                birth_date=born,
                id_number=demo_id_number(born, serial_digit),
                phone=phone,
                address=address,
                tags=tags,
                allergies=allergies,
            )
        )
    zhao, liu, sun, wu, zhou, zheng = rows

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    zhao_htn = await residents.add_condition(
        session,
        zhao.id,
        name="原发性高血压",
        code="I10",
        diagnosed_offline=True,
        diagnosed_on=ago(3650),
        diagnosed_at="市第一人民医院",
    )
    await residents.add_condition(
        session,
        zhao.id,
        name="2型糖尿病",
        code="E11",
        diagnosed_offline=True,
        diagnosed_on=ago(2900),
        diagnosed_at="江川路社区卫生服务中心",
    )
    liu_htn = await residents.add_condition(
        session,
        liu.id,
        name="原发性高血压",
        code="I10",
        diagnosed_offline=True,
        diagnosed_on=ago(1500),
        diagnosed_at="江川路社区卫生服务中心",
    )
    sun_htn = await residents.add_condition(
        session,
        sun.id,
        name="原发性高血压",
        code="I10",
        diagnosed_offline=True,
        diagnosed_on=ago(2200),
        diagnosed_at="市第一人民医院",
    )
    wu_dm = await residents.add_condition(
        session,
        wu.id,
        name="2型糖尿病",
        code="E11",
        diagnosed_offline=True,
        diagnosed_on=ago(800),
        diagnosed_at="江川路社区卫生服务中心",
    )
    # Reported by the resident, never diagnosed offline: an online 复诊 for it must be refused.
    await residents.add_condition(
        session,
        zhou.id,
        name="妊娠期血糖升高（自述）",
        code="O24.4",
        diagnosed_offline=False,
        diagnosed_on=None,
    )

    for resident, started, status in [
        (zhao, ago(200), ContractStatus.ACTIVE),
        (liu, ago(300), ContractStatus.ACTIVE),
        (sun, ago(350), ContractStatus.ACTIVE),  # within the renewal window: due for renewal
        (wu, ago(100), ContractStatus.ACTIVE),
        (zhou, ago(40), ContractStatus.ACTIVE),
        (zheng, today, ContractStatus.PENDING),
    ]:
        await contracts.add(
            session,
            resident_id=resident.id,
            team_id=team.id,
            package=ServicePackage.PERSONALISED if resident in (zhao, wu) else ServicePackage.BASIC,
            start_date=started,
            end_date=one_year_from(started),
            status=status,
            created_by=None,
        )

    # Follow-up plans: Liu is overdue, Sun due in three days, Zhao and Wu later.
    await followups.add_plan(
        session,
        resident_id=liu.id,
        team_id=team.id,
        condition_id=liu_htn.id,
        title="高血压随访",
        interval_days=90,
        start_date=ago(100),
        created_by=None,
    )
    await followups.add_plan(
        session,
        resident_id=sun.id,
        team_id=team.id,
        condition_id=sun_htn.id,
        title="高血压随访",
        interval_days=90,
        start_date=ago(87),
        created_by=None,
    )
    await followups.add_plan(
        session,
        resident_id=zhao.id,
        team_id=team.id,
        condition_id=zhao_htn.id,
        title="高血压随访",
        interval_days=90,
        start_date=ago(60),
        created_by=None,
    )
    _, wu_task = await followups.add_plan(
        session,
        resident_id=wu.id,
        team_id=team.id,
        condition_id=wu_dm.id,
        title="糖尿病随访",
        interval_days=90,
        start_date=ago(88),
        created_by=None,
    )

    def user(username: str, role: Role, display: str, **links: int) -> UserRow:
        return UserRow(
            username=username, password_hash=password, role=role.value, display_name=display, **links
        )

    users = {
        "doctor": user(
            "doctor", Role.DOCTOR, "王建国 医生", practitioner_id=wang.id, organization_id=centre.id
        ),
        "doctor2": user(
            "doctor2", Role.DOCTOR, "李敏 医生", practitioner_id=li.id, organization_id=centre.id
        ),
        "nurse": user("nurse", Role.NURSE, "张丽 护士", practitioner_id=zhang.id, organization_id=centre.id),
        "specialist": user(
            "specialist", Role.SPECIALIST, "陈志远 主任", practitioner_id=chen.id, organization_id=hospital.id
        ),
        "compliance": user("compliance", Role.COMPLIANCE, "周静（质控）", organization_id=centre.id),
        "admin": user("admin", Role.ADMIN, "系统管理员", organization_id=centre.id),
        "resident": user("resident", Role.RESIDENT, "刘德明", resident_id=liu.id),
        "proxy": user("proxy", Role.PROXY, "赵磊（赵秀兰之子）"),
    }
    session.add_all(users.values())
    await session.flush()
    await residents.bind_proxy(
        session,
        users["proxy"].id,
        zhao.id,
        Relation.CHILD,
        frozenset(ProxyScope),
        proof="户口本，社区中心现场核验",
    )

    await referrals.add(
        session,
        resident_id=zhao.id,
        from_team_id=team.id,
        to_organization_id=hospital.id,
        to_practitioner_id=chen.id,
        reason="血压控制不佳：近两周家庭自测收缩压 160-175 mmHg，请心内科会诊调整用药",
        shared_results=[
            SharedResult("家庭自测血压（近 14 天均值）", "168/96 mmHg", ago(1).isoformat()),
            SharedResult("糖化血红蛋白", "7.4%", ago(30).isoformat()),
        ],
        shared_condition_ids=[zhao_htn.id],
        created_by=users["doctor"].id,
    )

    # Wu's diabetes follow-up is booked for 15:00 today by video.
    tz = ZoneInfo(zone)
    at = datetime.combine(today, time(15, 0), tzinfo=tz).astimezone(UTC)
    row = await consults.add(
        session,
        kind=ConsultKind.FOLLOW_UP,
        mode=ConsultMode.VIDEO,
        resident_id=wu.id,
        team_id=team.id,
        status=ConsultStatus.SCHEDULED,
        scheduled_at=at,
        condition_id=wu_dm.id,
        referral_id=None,
        reason="糖尿病季度随访：请准备好血糖仪",
        created_by=users["doctor"].id,
        participants=[Participant(users["doctor"].id, ParticipantRole.DOCTOR, users["doctor"].display_name)],
    )
    task_row = await followups.get_task_row(session, wu_task.id)
    assert task_row is not None
    task_row.consult_id = row.id
    await session.flush()
    await audit.append(
        session, audit.AuditRecord(action="demo_load", entity_type="system", detail={"residents": len(rows)})
    )
