"""Messages between residents and their team: what a message may carry, who belongs, who pushes cards."""

from __future__ import annotations

from datetime import date

import pytest

from consult.access import Actor
from consult.errors import AccessDenied, RuleViolation
from consult.messaging import (
    MAX_TEXT,
    Card,
    CardType,
    Conversation,
    ConversationKind,
    MessageKind,
    check_content,
    member_role,
    require_may_send,
    require_member,
)
from consult.roles import ProxyScope
from tests.consult.actors import (
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

CONSULT = 900
ATTACHMENT = "0123456789abcdef0123456789abcdef"


def care_team_conversation(*, resident_id: int = RESIDENT, team_id: int | None = TEAM) -> Conversation:
    return Conversation(id=7, kind=ConversationKind.CARE_TEAM, resident_id=resident_id, team_id=team_id)


def consult_conversation() -> Conversation:
    return Conversation(
        id=8, kind=ConversationKind.CONSULT, resident_id=RESIDENT, team_id=TEAM, consult_id=CONSULT
    )


def report_card(url: str = "https://lis.hospital.example/reports/42", *, summary: str = "") -> Card:
    return Card(CardType.REPORT_LINK, "血常规报告", url, summary=summary)


NO_PARTICIPANTS: frozenset[int] = frozenset()
MESSAGE = {ProxyScope.MESSAGE}
EVERY_SCOPE_BUT_MESSAGE = {ProxyScope.CONSULT, ProxyScope.CONSENT, ProxyScope.VIEW_RECORDS}


# --- cards: what each type needs, which links are allowed ------------------------------------


@pytest.mark.parametrize(
    "card_type", [CardType.REPORT_LINK, CardType.BOOKING_LINK, CardType.ARTICLE], ids=str
)
def test_link_cards_carry_their_link(card_type: CardType) -> None:
    card = Card(card_type, "请查看", "https://hospital.example/page")
    assert card.url == "https://hospital.example/page"


@pytest.mark.parametrize(
    "card_type", [CardType.REPORT_LINK, CardType.BOOKING_LINK, CardType.ARTICLE], ids=str
)
def test_link_card_without_a_link_is_refused(card_type: CardType) -> None:
    with pytest.raises(ValueError, match=f"a {card_type.value} card needs a url"):
        Card(card_type, "请查看")


def test_followup_reminder_needs_only_its_due_date() -> None:
    card = Card(CardType.FOLLOWUP_REMINDER, "高血压随访提醒", due_date=date(2024, 7, 1))
    assert card.url is None
    assert card.due_date == date(2024, 7, 1)


def test_followup_reminder_without_due_date_is_refused() -> None:
    with pytest.raises(ValueError, match="follow-up reminder card needs its due_date"):
        Card(CardType.FOLLOWUP_REMINDER, "高血压随访提醒")


def test_followup_reminder_with_a_link_still_has_the_link_checked() -> None:
    with pytest.raises(ValueError, match="https:// or a path"):
        Card(CardType.FOLLOWUP_REMINDER, "随访", "javascript:alert(1)", due_date=date(2024, 7, 1))


@pytest.mark.parametrize(
    "url",
    [
        "https://hospital.example/booking?dept=cardiology&date=2024-06-10",
        "/reports/42",
        "/",
    ],
)
def test_https_links_and_paths_on_this_service_are_accepted(url: str) -> None:
    assert report_card(url).url == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "http://hospital.example/reports/42",
        "data:text/html,<script>alert(1)</script>",
        "ftp://hospital.example/report.pdf",
        "https://",
        "https://hospital.example/a report",
        " https://hospital.example/reports/42",
        "reports/42",
        "",
    ],
    ids=[
        "javascript",
        "javascript mixed case",
        "plain http",
        "data",
        "ftp",
        "https without host",
        "space inside",
        "leading space",
        "relative path",
        "empty",
    ],
)
def test_unsafe_or_foreign_links_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="card url must be https:// or a path on this service") as info:
        report_card(url)
    assert repr(url) in str(info.value)


def test_protocol_relative_link_to_another_host_is_refused() -> None:
    # "//evil.example/..." is not a path on this service: a browser follows it to evil.example.
    with pytest.raises(ValueError, match="https:// or a path"):
        report_card("//evil.example/login")


@pytest.mark.parametrize("title", ["", "   ", "x" * 101], ids=["empty", "blank", "101 chars"])
def test_card_title_must_be_1_to_100_characters(title: str) -> None:
    with pytest.raises(ValueError, match=f"card title must be 1-100 characters, got {len(title)}"):
        Card(CardType.ARTICLE, title, "/articles/flu")


def test_card_title_of_100_characters_is_accepted() -> None:
    assert len(Card(CardType.ARTICLE, "标" * 100, "/articles/flu").title) == 100


def test_card_summary_is_limited_to_500_characters() -> None:
    assert len(report_card(summary="说" * 500).summary) == 500
    with pytest.raises(ValueError, match="card summary must be at most 500 characters"):
        report_card(summary="说" * 501)


# --- check_content: a message carries what its kind says --------------------------------------


def test_text_message_is_accepted() -> None:
    check_content(MessageKind.TEXT, "医生您好，我这两天头有点晕", None, None)


@pytest.mark.parametrize("text", ["", "  \n\t "], ids=["empty", "whitespace"])
def test_text_message_without_text_is_refused(text: str) -> None:
    with pytest.raises(RuleViolation, match="a text message needs text") as info:
        check_content(MessageKind.TEXT, text, None, None)
    assert info.value.field == "text"


def test_text_of_exactly_the_limit_is_accepted() -> None:
    check_content(MessageKind.TEXT, "字" * MAX_TEXT, None, None)


@pytest.mark.parametrize(
    ("kind", "attachment", "card"),
    [
        (MessageKind.TEXT, None, None),
        (MessageKind.IMAGE, ATTACHMENT, None),
        (MessageKind.FILE, ATTACHMENT, None),
    ],
    ids=["text", "image caption", "file caption"],
)
def test_text_over_2000_characters_is_refused(
    kind: MessageKind, attachment: str | None, card: Card | None
) -> None:
    assert MAX_TEXT == 2000
    with pytest.raises(RuleViolation, match="text is limited to 2000 characters, got 2001") as info:
        check_content(kind, "字" * 2001, attachment, card)
    assert info.value.field == "text"


@pytest.mark.parametrize("kind", [MessageKind.IMAGE, MessageKind.FILE], ids=str)
def test_image_or_file_with_its_upload_is_accepted_with_or_without_a_caption(kind: MessageKind) -> None:
    check_content(kind, "", ATTACHMENT, None)
    check_content(kind, "这是昨天的化验单", ATTACHMENT, None)


@pytest.mark.parametrize("kind", [MessageKind.IMAGE, MessageKind.FILE], ids=str)
def test_image_or_file_without_an_upload_is_refused(kind: MessageKind) -> None:
    with pytest.raises(RuleViolation, match=f"an {kind.value} message needs an uploaded attachment") as info:
        check_content(kind, "看看这张照片", None, None)
    assert info.value.field == "attachment_id"


def test_card_message_with_its_card_is_accepted() -> None:
    check_content(MessageKind.CARD, "", None, report_card())


def test_card_message_without_a_card_is_refused() -> None:
    with pytest.raises(RuleViolation, match="a card message needs its card") as info:
        check_content(MessageKind.CARD, "请查看报告", None, None)
    assert info.value.field == "card"


@pytest.mark.parametrize(
    ("kind", "attachment"),
    [(MessageKind.TEXT, None), (MessageKind.IMAGE, ATTACHMENT), (MessageKind.FILE, ATTACHMENT)],
    ids=["text", "image", "file"],
)
def test_only_card_messages_carry_a_card(kind: MessageKind, attachment: str | None) -> None:
    with pytest.raises(RuleViolation, match="only card messages carry a card") as info:
        check_content(kind, "请查看", attachment, report_card())
    assert info.value.field == "card"


def test_text_message_carrying_an_attachment_is_refused() -> None:
    # The client shows attachments only on image and file messages: on a text message the
    # uploaded report would be stored but never seen by the doctor.
    with pytest.raises(RuleViolation) as info:
        check_content(MessageKind.TEXT, "报告在附件里", ATTACHMENT, None)
    assert info.value.field == "attachment_id"


@pytest.mark.parametrize("kind", [MessageKind.AUTO_REPLY, MessageKind.SYSTEM], ids=str)
def test_system_kinds_cannot_be_sent_by_a_person(kind: MessageKind) -> None:
    with pytest.raises(RuleViolation, match=f"{kind.value} messages are written by the system") as info:
        check_content(kind, "医生正在休息", None, None)
    assert info.value.field == "kind"


# --- member_role / require_member: who belongs to a conversation --------------------------------


@pytest.mark.parametrize(
    ("actor", "conversation", "role"),
    [
        (resident(), care_team_conversation(), "resident"),
        (resident(OTHER_RESIDENT), care_team_conversation(), None),
        (proxy((RESIDENT, MESSAGE)), care_team_conversation(), "proxy"),
        (proxy((RESIDENT, EVERY_SCOPE_BUT_MESSAGE)), care_team_conversation(), None),
        (proxy((OTHER_RESIDENT, MESSAGE)), care_team_conversation(), None),
        (proxy(), care_team_conversation(), None),
        (doctor(), care_team_conversation(), "team"),
        (nurse(), care_team_conversation(), "team"),
        (doctor(teams=frozenset({OTHER_TEAM})), care_team_conversation(), None),
        (nurse(teams=frozenset({OTHER_TEAM})), care_team_conversation(), None),
        (doctor(teams=frozenset({OTHER_TEAM, TEAM})), care_team_conversation(), "team"),
        (doctor(), care_team_conversation(team_id=None), None),
        (specialist(), care_team_conversation(), None),
        (compliance(), care_team_conversation(), None),
        (admin(), care_team_conversation(), None),
    ],
    ids=[
        "resident self",
        "another resident",
        "proxy with message scope",
        "proxy without message scope",
        "proxy bound to someone else",
        "proxy with no binding",
        "team doctor",
        "team nurse",
        "doctor of another team",
        "nurse of another team",
        "doctor on both teams",
        "doctor, conversation without team",
        "specialist",
        "compliance",
        "admin",
    ],
)
def test_care_team_conversation_members(actor: Actor, conversation: Conversation, role: str | None) -> None:
    assert member_role(actor, conversation, NO_PARTICIPANTS) == role


def test_proxy_scope_for_one_resident_does_not_open_another() -> None:
    actor = proxy((OTHER_RESIDENT, MESSAGE), (RESIDENT, {ProxyScope.CONSULT}))
    assert member_role(actor, care_team_conversation(resident_id=OTHER_RESIDENT), NO_PARTICIPANTS) == "proxy"
    assert member_role(actor, care_team_conversation(resident_id=RESIDENT), NO_PARTICIPANTS) is None


@pytest.mark.parametrize(
    "actor",
    [resident(), proxy((RESIDENT, MESSAGE)), doctor(), nurse(), specialist()],
    ids=["resident", "proxy", "doctor", "nurse", "specialist"],
)
def test_consult_chat_is_for_the_consults_participants(actor: Actor) -> None:
    conversation = consult_conversation()
    assert member_role(actor, conversation, frozenset({actor.user_id, 999})) == "participant"
    # The same person not (or no longer) among the participants: the team's standing does not count.
    assert member_role(actor, conversation, frozenset({999})) is None


@pytest.mark.parametrize("actor", [compliance(), admin()], ids=["compliance", "admin"])
def test_compliance_and_admin_are_never_members_of_a_consult_chat(actor: Actor) -> None:
    assert member_role(actor, consult_conversation(), frozenset({1, 20, 30})) is None


def test_require_member_returns_how_the_caller_belongs() -> None:
    assert require_member(proxy((RESIDENT, MESSAGE)), care_team_conversation(), NO_PARTICIPANTS) == "proxy"


@pytest.mark.parametrize(
    "actor",
    [
        proxy((RESIDENT, EVERY_SCOPE_BUT_MESSAGE)),
        doctor(teams=frozenset({OTHER_TEAM})),
        compliance(),
        admin(),
    ],
    ids=["proxy without message scope", "doctor of another team", "compliance", "admin"],
)
def test_require_member_refuses_outsiders_naming_the_conversation(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match="you are not a member of conversation 7") as info:
        require_member(actor, care_team_conversation(), NO_PARTICIPANTS)
    assert info.value.code == "forbidden"


def test_unverified_team_doctor_may_not_read_residents_messages() -> None:
    # Real names first (互联网诊疗管理办法 art. 25): the same doctor is refused the resident's record
    # (access.record_access), so the resident's messages must not be open to them either.
    with pytest.raises(AccessDenied):
        require_member(doctor(verified=False), care_team_conversation(), NO_PARTICIPANTS)


# --- require_may_send: cards come from the care team --------------------------------------------


@pytest.mark.parametrize("actor", [doctor(), nurse(), specialist()], ids=["doctor", "nurse", "specialist"])
def test_practitioners_push_cards(actor: Actor) -> None:
    require_may_send(actor, MessageKind.CARD)


@pytest.mark.parametrize(
    "actor", [resident(), proxy((RESIDENT, MESSAGE)), compliance()], ids=["resident", "proxy", "compliance"]
)
def test_non_practitioners_may_not_push_cards(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match="cards are sent by the care team") as info:
        require_may_send(actor, MessageKind.CARD)
    assert info.value.code == "cards_by_team"


@pytest.mark.parametrize("kind", [MessageKind.TEXT, MessageKind.IMAGE, MessageKind.FILE], ids=str)
@pytest.mark.parametrize("actor", [resident(), proxy((RESIDENT, MESSAGE))], ids=["resident", "proxy"])
def test_residents_and_proxies_write_text_and_attach_files(actor: Actor, kind: MessageKind) -> None:
    require_may_send(actor, kind)
