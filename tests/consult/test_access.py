"""Who may see or do what: every role against records, listings, consults and notes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from consult.access import (
    Actor,
    RecordAccess,
    ResidentScope,
    may_view_consult,
    may_view_note,
    participant_role_for,
    record_access,
    require_may_request_consult,
    require_may_write_note,
    require_practising,
    require_record_access,
    require_team_clinician,
    resident_scope,
)
from consult.consult import Consult, ConsultKind, ConsultMode, ConsultStatus, Participant, ParticipantRole
from consult.errors import AccessDenied
from consult.roles import ProxyScope, Role
from tests.consult.actors import (
    ORG,
    OTHER_RESIDENT,
    OTHER_TEAM,
    RESIDENT,
    TEAM,
    admin,
    compliance,
    doctor,
    nurse,
    proxy,
    resident,
    specialist,
)


def consult(
    *,
    kind: ConsultKind = ConsultKind.FOLLOW_UP,
    resident_id: int = RESIDENT,
    team_id: int | None = TEAM,
    participants: tuple[Participant, ...] = (),
) -> Consult:
    return Consult(
        id=900,
        kind=kind,
        mode=ConsultMode.VIDEO,
        resident_id=resident_id,
        team_id=team_id,
        status=ConsultStatus.IN_PROGRESS,
        scheduled_at=None,
        created_at=datetime(2024, 6, 1, 9, 0, tzinfo=UTC),
        participants=participants,
    )


def as_participant(actor: Actor, role: ParticipantRole) -> Participant:
    return Participant(user_id=actor.user_id, role=role, display_name=actor.display_name)


def assert_refused_as_unverified(decide: Callable[[], bool]) -> None:
    """Whether the refusal is a False or an AccessDenied, it must not let the practitioner in."""
    try:
        allowed = decide()
    except AccessDenied as err:
        assert err.code == "practitioner_unverified"
    else:
        assert allowed is False, "a practitioner who is not real-name verified was let in"


VIEW = {ProxyScope.VIEW_RECORDS}
CONSULT = {ProxyScope.CONSULT}
MESSAGE = {ProxyScope.MESSAGE}


# --- resident_scope: whom a listing may return -----------------------------------------------


def test_team_clinicians_list_their_teams_residents() -> None:
    teams = frozenset({TEAM, OTHER_TEAM})
    assert resident_scope(doctor(teams=teams)) == ResidentScope(team_ids=teams)
    assert resident_scope(nurse()) == ResidentScope(team_ids=frozenset({TEAM}))


def test_doctor_on_no_team_lists_nobody() -> None:
    assert resident_scope(doctor(teams=frozenset())).is_empty


def test_specialist_lists_only_referred_residents() -> None:
    scope = resident_scope(specialist(referred=frozenset({RESIDENT, OTHER_RESIDENT})))
    assert scope == ResidentScope(resident_ids=frozenset({RESIDENT, OTHER_RESIDENT}))


def test_resident_lists_only_themself() -> None:
    assert resident_scope(resident()) == ResidentScope(resident_ids=frozenset({RESIDENT}))


def test_resident_account_without_a_resident_lists_nobody() -> None:
    assert resident_scope(resident(None)).is_empty


def test_proxy_lists_the_residents_bound_to_them() -> None:
    scope = resident_scope(proxy((RESIDENT, CONSULT), (OTHER_RESIDENT, MESSAGE)))
    assert scope == ResidentScope(resident_ids=frozenset({RESIDENT, OTHER_RESIDENT}))


def test_proxy_with_no_binding_lists_nobody() -> None:
    assert resident_scope(proxy()).is_empty


def test_compliance_lists_their_organization() -> None:
    scope = resident_scope(compliance())
    assert scope == ResidentScope(all_in_organization=ORG)
    assert not scope.is_empty


def test_admin_lists_no_residents() -> None:
    assert resident_scope(admin()).is_empty


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        (doctor(verified=False), "practitioner_unverified"),
        (nurse(verified=False), "practitioner_unverified"),
        (specialist(verified=False), "practitioner_unverified"),
        (doctor(years=2), "practitioner_inexperienced"),
        (specialist(years=1), "practitioner_inexperienced"),
    ],
    ids=["doctor unverified", "nurse unverified", "specialist unverified", "doctor 2y", "specialist 1y"],
)
def test_practitioner_who_may_not_practise_lists_nobody(actor: Actor, code: str) -> None:
    with pytest.raises(AccessDenied) as info:
        resident_scope(actor)
    assert info.value.code == code


def test_doctor_account_without_practitioner_record_is_refused() -> None:
    actor = Actor(
        user_id=22, username="ghost", role=Role.DOCTOR, display_name="?", team_ids=frozenset({TEAM})
    )
    with pytest.raises(AccessDenied, match="not linked to a practitioner"):
        resident_scope(actor)


# --- record_access: how much of a record ------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "resident_id", "team_id", "access"),
    [
        (doctor(), RESIDENT, TEAM, RecordAccess.FULL),
        (nurse(), RESIDENT, TEAM, RecordAccess.FULL),
        (doctor(), RESIDENT, OTHER_TEAM, RecordAccess.NONE),
        (doctor(), RESIDENT, None, RecordAccess.NONE),  # not signed with any team
        (specialist(), RESIDENT, OTHER_TEAM, RecordAccess.SHARED),
        (specialist(), OTHER_RESIDENT, TEAM, RecordAccess.NONE),
        (resident(), RESIDENT, TEAM, RecordAccess.FULL),
        (resident(), RESIDENT, None, RecordAccess.FULL),
        (resident(), OTHER_RESIDENT, TEAM, RecordAccess.NONE),
        (proxy((RESIDENT, VIEW)), RESIDENT, TEAM, RecordAccess.FULL),
        (proxy((RESIDENT, CONSULT | MESSAGE | {ProxyScope.CONSENT})), RESIDENT, TEAM, RecordAccess.NONE),
        (proxy((RESIDENT, VIEW)), OTHER_RESIDENT, TEAM, RecordAccess.NONE),
        (compliance(), RESIDENT, TEAM, RecordAccess.NONE),
        (admin(), RESIDENT, TEAM, RecordAccess.NONE),
    ],
    ids=[
        "team doctor",
        "team nurse",
        "doctor of another team",
        "doctor, resident unsigned",
        "referred specialist",
        "specialist, not referred",
        "resident self",
        "resident self, unsigned",
        "resident, someone else",
        "proxy with view_records",
        "proxy without view_records",
        "proxy, unbound resident",
        "compliance",
        "admin",
    ],
)
def test_record_access(actor: Actor, resident_id: int, team_id: int | None, access: RecordAccess) -> None:
    assert record_access(actor, resident_id, team_id) is access


@pytest.mark.parametrize(
    "actor", [doctor(verified=False), nurse(verified=False), specialist(verified=False)], ids=str
)
def test_unverified_practitioner_sees_no_record(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match="not real-name verified") as info:
        record_access(actor, RESIDENT, TEAM)
    assert info.value.code == "practitioner_unverified"


def test_require_record_access_refuses_naming_the_resident() -> None:
    with pytest.raises(AccessDenied, match=f"may not see the record of resident {OTHER_RESIDENT}"):
        require_record_access(resident(), OTHER_RESIDENT, TEAM)


def test_require_record_access_returns_the_level() -> None:
    assert require_record_access(specialist(), RESIDENT, TEAM) is RecordAccess.SHARED


# --- practitioners and team clinicians --------------------------------------------------------


@pytest.mark.parametrize("actor", [resident(), proxy((RESIDENT, VIEW)), compliance(), admin()], ids=str)
def test_non_practitioners_may_not_act_as_one(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match=f"only practitioners may do this, not a {actor.role.value}"):
        require_practising(actor)


def test_team_clinician_is_returned_as_practitioner() -> None:
    actor = doctor()
    assert require_team_clinician(actor, TEAM) is actor.practitioner


@pytest.mark.parametrize("team_id", [OTHER_TEAM, None])
def test_clinician_of_another_team_is_refused(team_id: int | None) -> None:
    with pytest.raises(AccessDenied, match="not signed with your team") as info:
        require_team_clinician(doctor(), team_id)
    assert info.value.code == "not_your_resident"


def test_specialist_is_not_a_team_clinician() -> None:
    with pytest.raises(AccessDenied, match="not a specialist"):
        require_team_clinician(specialist(), TEAM)


def test_unverified_team_clinician_is_refused() -> None:
    with pytest.raises(AccessDenied) as info:
        require_team_clinician(nurse(verified=False), TEAM)
    assert info.value.code == "practitioner_unverified"


@pytest.mark.parametrize(
    ("actor", "role"),
    [
        (resident(), ParticipantRole.RESIDENT),
        (proxy((RESIDENT, CONSULT)), ParticipantRole.PROXY),
        (doctor(), ParticipantRole.DOCTOR),
        (nurse(), ParticipantRole.NURSE),
        (specialist(), ParticipantRole.SPECIALIST),
    ],
    ids=str,
)
def test_participant_role_follows_the_account_role(actor: Actor, role: ParticipantRole) -> None:
    assert participant_role_for(actor) is role


@pytest.mark.parametrize("actor", [compliance(), admin()], ids=["compliance", "admin"])
def test_compliance_and_admin_do_not_take_part_in_consults(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match=f"a {actor.role.value} does not take part in consults"):
        participant_role_for(actor)


# --- require_may_request_consult ----------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ConsultKind))
def test_team_clinician_may_open_any_kind(kind: ConsultKind) -> None:
    require_may_request_consult(doctor(), RESIDENT, TEAM, kind)
    require_may_request_consult(nurse(), RESIDENT, TEAM, kind)


def test_doctor_may_not_open_a_consult_for_another_teams_resident() -> None:
    with pytest.raises(AccessDenied) as info:
        require_may_request_consult(doctor(), RESIDENT, OTHER_TEAM, ConsultKind.ADVICE)
    assert info.value.code == "not_your_resident"


@pytest.mark.parametrize(
    ("actor", "code"),
    [(doctor(verified=False), "practitioner_unverified"), (doctor(years=1), "practitioner_inexperienced")],
    ids=["unverified", "inexperienced"],
)
def test_doctor_who_may_not_practise_opens_no_consult(actor: Actor, code: str) -> None:
    with pytest.raises(AccessDenied) as info:
        require_may_request_consult(actor, RESIDENT, TEAM, ConsultKind.FOLLOW_UP)
    assert info.value.code == code


@pytest.mark.parametrize("kind", [ConsultKind.ADVICE, ConsultKind.FOLLOW_UP])
def test_resident_may_ask_for_advice_or_follow_up_for_themself(kind: ConsultKind) -> None:
    require_may_request_consult(resident(), RESIDENT, TEAM, kind)


@pytest.mark.parametrize(
    "actor", [resident(), proxy((RESIDENT, CONSULT)), specialist()], ids=["resident", "proxy", "specialist"]
)
def test_only_the_team_opens_a_referral_consult(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match="referral consults are opened by the family-doctor team"):
        require_may_request_consult(actor, RESIDENT, TEAM, ConsultKind.REFERRAL)


def test_resident_may_not_open_a_consult_for_someone_else() -> None:
    with pytest.raises(AccessDenied, match=f"may not open a consult for resident {OTHER_RESIDENT}"):
        require_may_request_consult(resident(), OTHER_RESIDENT, TEAM, ConsultKind.ADVICE)


@pytest.mark.parametrize("kind", [ConsultKind.ADVICE, ConsultKind.FOLLOW_UP])
def test_proxy_with_consult_scope_may_open_a_consult(kind: ConsultKind) -> None:
    require_may_request_consult(proxy((RESIDENT, CONSULT)), RESIDENT, TEAM, kind)


@pytest.mark.parametrize(
    "actor",
    [proxy((RESIDENT, VIEW | MESSAGE)), proxy((OTHER_RESIDENT, CONSULT)), proxy()],
    ids=["bound without consult scope", "bound to someone else", "no binding"],
)
def test_proxy_without_consult_scope_is_refused(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match="does not include consults") as info:
        require_may_request_consult(actor, RESIDENT, TEAM, ConsultKind.ADVICE)
    assert info.value.code == "scope_missing"


@pytest.mark.parametrize(
    "actor", [specialist(), compliance(), admin()], ids=["specialist", "compliance", "admin"]
)
def test_others_may_not_open_a_consult(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match=f"may not open a consult for resident {RESIDENT}"):
        require_may_request_consult(actor, RESIDENT, TEAM, ConsultKind.ADVICE)


# --- may_view_consult ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "the_consult", "allowed"),
    [
        (doctor(), consult(), True),
        (nurse(), consult(), True),
        (doctor(teams=frozenset({OTHER_TEAM})), consult(), False),
        (doctor(), consult(team_id=None), False),
        (resident(), consult(), True),
        (resident(), consult(resident_id=OTHER_RESIDENT), False),
        (proxy((RESIDENT, CONSULT)), consult(), True),
        (proxy((RESIDENT, VIEW)), consult(), True),
        (proxy((RESIDENT, MESSAGE | {ProxyScope.CONSENT})), consult(), False),
        (proxy((OTHER_RESIDENT, CONSULT | VIEW)), consult(), False),
        (specialist(), consult(kind=ConsultKind.REFERRAL), True),
        (specialist(), consult(kind=ConsultKind.FOLLOW_UP), False),
        (specialist(referred=frozenset()), consult(kind=ConsultKind.REFERRAL), False),
        (compliance(), consult(resident_id=OTHER_RESIDENT, team_id=OTHER_TEAM), True),
        (admin(), consult(), False),
    ],
    ids=[
        "team doctor",
        "team nurse",
        "doctor of another team",
        "consult with no team",
        "resident own",
        "resident, someone else's",
        "proxy with consult scope",
        "proxy with view_records",
        "proxy with message and consent only",
        "proxy bound to someone else",
        "referred specialist, referral consult",
        "referred specialist, follow-up consult",
        "specialist, referral closed",
        "compliance",
        "admin",
    ],
)
def test_may_view_consult(actor: Actor, the_consult: Consult, allowed: bool) -> None:
    assert may_view_consult(actor, the_consult) is allowed


def test_participant_may_view_the_consult_they_took_part_in() -> None:
    # The specialist's referral has closed, but they were in the room.
    actor = specialist(referred=frozenset())
    joined = consult(
        kind=ConsultKind.REFERRAL, participants=(as_participant(actor, ParticipantRole.SPECIALIST),)
    )
    assert may_view_consult(actor, joined) is True
    assert may_view_consult(actor, consult(kind=ConsultKind.REFERRAL)) is False


def test_unverified_team_doctor_may_not_view_the_consult() -> None:
    assert_refused_as_unverified(lambda: may_view_consult(doctor(verified=False), consult()))


# --- may_view_note ------------------------------------------------------------------------------


def test_compliance_reads_the_note_only_while_reviewing() -> None:
    the_consult = consult()
    assert may_view_note(compliance(), the_consult, reviewing=True) is True
    assert may_view_note(compliance(), the_consult, reviewing=False) is False
    # ...while still seeing that the consult exists.
    assert may_view_consult(compliance(), the_consult) is True


@pytest.mark.parametrize(
    ("actor", "the_consult", "allowed"),
    [
        (doctor(), consult(), True),
        (nurse(), consult(), True),
        (doctor(teams=frozenset({OTHER_TEAM})), consult(), False),
        (resident(), consult(), True),
        (resident(), consult(resident_id=OTHER_RESIDENT), False),
        (proxy((RESIDENT, VIEW)), consult(), True),
        (proxy((RESIDENT, CONSULT)), consult(), False),
        (proxy((OTHER_RESIDENT, VIEW)), consult(), False),
        (specialist(), consult(kind=ConsultKind.REFERRAL), True),
        (specialist(), consult(kind=ConsultKind.ADVICE), False),
        (admin(), consult(), False),
    ],
    ids=[
        "team doctor",
        "team nurse",
        "doctor of another team",
        "resident own",
        "resident, someone else's",
        "proxy with view_records",
        "proxy with consult scope only",
        "proxy bound to someone else",
        "referred specialist, referral consult",
        "referred specialist, advice consult",
        "admin",
    ],
)
def test_may_view_note(actor: Actor, the_consult: Consult, allowed: bool) -> None:
    assert may_view_note(actor, the_consult, reviewing=False) is allowed


def test_reviewing_flag_gives_no_one_else_the_note() -> None:
    assert may_view_note(doctor(teams=frozenset({OTHER_TEAM})), consult(), reviewing=True) is False
    assert may_view_note(proxy((RESIDENT, CONSULT)), consult(), reviewing=True) is False


def test_proxy_who_joined_the_call_still_needs_view_records_for_the_note() -> None:
    actor = proxy((RESIDENT, CONSULT))
    joined = consult(participants=(as_participant(actor, ParticipantRole.PROXY),))
    assert may_view_consult(actor, joined) is True
    assert may_view_note(actor, joined, reviewing=False) is False


def test_unverified_team_doctor_may_not_read_the_note() -> None:
    assert_refused_as_unverified(lambda: may_view_note(doctor(verified=False), consult(), reviewing=False))


def test_unverified_specialist_in_the_room_may_not_read_the_note() -> None:
    actor = specialist(verified=False)
    joined = consult(
        kind=ConsultKind.REFERRAL, participants=(as_participant(actor, ParticipantRole.SPECIALIST),)
    )
    assert_refused_as_unverified(lambda: may_view_note(actor, joined, reviewing=False))


# --- require_may_write_note ---------------------------------------------------------------------


@pytest.mark.parametrize("actor", [doctor(), nurse()], ids=["doctor", "nurse"])
def test_team_clinicians_write_the_note(actor: Actor) -> None:
    assert require_may_write_note(actor, consult()) is actor.practitioner


@pytest.mark.parametrize("team_id", [OTHER_TEAM, None], ids=["another team", "no team"])
def test_clinician_may_not_write_another_teams_note(team_id: int | None) -> None:
    with pytest.raises(AccessDenied, match="belongs to another team") as info:
        require_may_write_note(doctor(), consult(team_id=team_id))
    assert info.value.code == "not_your_resident"


def test_referred_specialist_writes_in_the_referral_consult() -> None:
    actor = specialist()
    assert (
        require_may_write_note(actor, consult(kind=ConsultKind.REFERRAL, team_id=TEAM)) is actor.practitioner
    )


def test_specialist_in_the_room_writes_even_after_the_referral_closed() -> None:
    actor = specialist(referred=frozenset())
    joined = consult(
        kind=ConsultKind.REFERRAL, participants=(as_participant(actor, ParticipantRole.SPECIALIST),)
    )
    assert require_may_write_note(actor, joined) is actor.practitioner


@pytest.mark.parametrize(
    ("actor", "the_consult"),
    [
        (specialist(), consult(kind=ConsultKind.FOLLOW_UP)),
        (specialist(referred=frozenset()), consult(kind=ConsultKind.REFERRAL)),
    ],
    ids=["not a referral consult", "referral not shared with them"],
)
def test_specialist_writes_only_in_referral_consults_shared_with_them(
    actor: Actor, the_consult: Consult
) -> None:
    with pytest.raises(AccessDenied, match="only in referral consults shared with them"):
        require_may_write_note(actor, the_consult)


@pytest.mark.parametrize(
    "actor",
    [resident(), proxy((RESIDENT, CONSULT | VIEW)), compliance(), admin()],
    ids=["resident", "proxy", "compliance", "admin"],
)
def test_non_practitioners_never_write_the_note(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match=f"only practitioners may do this, not a {actor.role.value}"):
        require_may_write_note(actor, consult())


@pytest.mark.parametrize(
    ("actor", "the_consult", "code"),
    [
        (doctor(verified=False), consult(), "practitioner_unverified"),
        (nurse(verified=False), consult(), "practitioner_unverified"),
        (specialist(verified=False), consult(kind=ConsultKind.REFERRAL), "practitioner_unverified"),
        (doctor(years=2), consult(), "practitioner_inexperienced"),
    ],
    ids=["doctor unverified", "nurse unverified", "specialist unverified", "doctor 2y"],
)
def test_practitioner_who_may_not_practise_writes_no_note(
    actor: Actor, the_consult: Consult, code: str
) -> None:
    with pytest.raises(AccessDenied) as info:
        require_may_write_note(actor, the_consult)
    assert info.value.code == code


def test_binding_for_finds_the_residents_binding() -> None:
    actor = proxy((RESIDENT, CONSULT), (OTHER_RESIDENT, VIEW))
    found = actor.binding_for(OTHER_RESIDENT)
    assert found is not None
    assert found.allows(ProxyScope.VIEW_RECORDS)
    assert actor.binding_for(300) is None
