"""Custom actions. Thin: each reads the tracker, calls into ``bot``, and dispatches the reply."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from bot import intake, replies
from bot.knowledge import Knowledge, get_knowledge
from bot.models import utcnow
from bot.permit_matcher import canonical as canonical_permit_type
from bot.services import case_repository
from bot.validation import parse_plot_size
from bot.worktime import STOCKHOLM, add_working_days, format_date_sv

logger = logging.getLogger(__name__)

ACTION_LISTEN = "action_listen"


def _say(dispatcher: CollectingDispatcher, reply: replies.Reply) -> None:
    dispatcher.utter_message(
        text=reply.text,
        buttons=[{"title": b.title, "payload": b.payload} for b in reply.buttons],
    )


def _offer_case(dispatcher: CollectingDispatcher, response: str = "utter_offer_case") -> EventType:
    dispatcher.utter_message(response=response)
    return SlotSet("offer_pending", True)


def _latest_entity(tracker: Tracker, entity: str) -> str | None:
    value = next(tracker.get_latest_entity_values(entity), None)
    return str(value) if value is not None else None


def _reset_form() -> list[EventType]:
    return [SlotSet(name, None) for name in intake.FORM_SLOTS] + [
        SlotSet("offer_pending", False),
        SlotSet("save_failed", False),
    ]


class ActionAnswerPermit(Action):
    """Answer a permit question from the permit guide, or ask which permit it is about."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_answer_permit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Explain the recognised permit and offer to register the enquiry."""
        knowledge = get_knowledge()
        permit_type = canonical_permit_type(_latest_entity(tracker, "permit_type"))
        events: list[EventType] = [SlotSet("topic", "permit"), SlotSet("permit_type", permit_type)]
        info = knowledge.permit(permit_type) if permit_type else None
        if info is None:
            _say(dispatcher, replies.ask_which_permit(knowledge))
            return [*events, SlotSet("offer_pending", False)]
        _say(dispatcher, replies.permit_answer(info, knowledge.units[info.unit]))
        return [*events, _offer_case(dispatcher)]


class ActionAnswerIndustrialLand(Action):
    """List available plots that match the size and area asked for, and offer a site visit."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_answer_industrial_land"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """List matching plots and offer a site visit."""
        size = parse_plot_size(_latest_entity(tracker, "plot_size")) or parse_plot_size(
            tracker.latest_message.get("text"), require_unit=True
        )
        area = _latest_entity(tracker, "area")
        reply, _matched = replies.plots_answer(get_knowledge(), size, area)
        _say(dispatcher, reply)
        return [
            SlotSet("topic", "industrial_land"),
            SlotSet("permit_type", None),
            _offer_case(dispatcher, "utter_offer_site_visit"),
        ]


class ActionAnswerTopic(Action):
    """Answer skills-supply and start-business questions from the routing table."""

    _TOPIC_BY_INTENT: ClassVar[dict[str, str]] = {
        "ask_skills_supply": "skills_supply",
        "start_business": "start_business",
    }

    def name(self) -> str:
        """Name in the domain."""
        return "action_answer_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Explain the municipality's support for the topic and offer contact."""
        intent = tracker.get_intent_of_latest_message() or ""
        topic = self._TOPIC_BY_INTENT.get(intent, "other")
        _say(dispatcher, replies.topic_answer(get_knowledge(), topic))
        return [SlotSet("topic", topic), SlotSet("permit_type", None), _offer_case(dispatcher)]


class ActionRequestHuman(Action):
    """Give the responsible unit's phone, e-mail and opening hours, and offer a call-back."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Tell how to reach a person and offer to register a call-back."""
        knowledge = get_knowledge()
        topic = tracker.get_slot("topic") or "other"
        permit_type = tracker.get_slot("permit_type") if topic == "permit" else None
        unit = knowledge.unit_for(topic, permit_type)
        _say(dispatcher, replies.human_contact_answer(unit, utcnow()))
        return [SlotSet("topic", topic), _offer_case(dispatcher, "utter_offer_callback")]


class ActionContactCentre(Action):
    """Answer honestly (bot challenge, out of scope, not understood) and give the contact centre."""

    _RESPONSE_BY_INTENT: ClassVar[dict[str, str]] = {
        "bot_challenge": "utter_bot_challenge",
        "out_of_scope": "utter_out_of_scope",
    }

    def name(self) -> str:
        """Name in the domain."""
        return "action_contact_centre"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Utter the honest answer with the contact centre's phone and e-mail."""
        knowledge = get_knowledge()
        centre = knowledge.units[knowledge.contact_centre]
        intent = tracker.get_intent_of_latest_message(skip_fallback_intent=False) or ""
        response = self._RESPONSE_BY_INTENT.get(intent, "utter_default")
        dispatcher.utter_message(response=response, phone=centre.phone, email=centre.email)
        # Also the policy's core fallback: listen next, or no rule would stop the prediction loop.
        return [SlotSet("offer_pending", False), FollowupAction(ACTION_LISTEN)]


class ActionDeclineOffer(Action):
    """The entrepreneur does not want a case: register nothing and forget the form answers."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_decline_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Confirm that nothing is registered."""
        dispatcher.utter_message(response="utter_no_case")
        return _reset_form()


class ActionCancelForm(Action):
    """Stop the active form and forget its answers."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_cancel_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Deactivate the form and confirm that nothing was stored."""
        dispatcher.utter_message(response="utter_form_cancelled")
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("case_ref", None),
            SlotSet("status_contact", None),
            *_reset_form(),
        ]


class ValidateContactForm(FormValidationAction):
    """Check each answer of the contact form; wrong answers are asked again with a hint."""

    def name(self) -> str:
        """Name in the domain."""
        return "validate_contact_form"

    @staticmethod
    def _result(
        slot: str, checked: intake.Checked, dispatcher: CollectingDispatcher
    ) -> dict[str, Any]:
        if not checked.ok:
            dispatcher.utter_message(text=checked.hint)
            return {slot: None}
        return {slot: checked.value, **checked.extra}

    def validate_contact_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check the name."""
        return self._result("contact_name", intake.check_name(value), dispatcher)

    def validate_company_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check the company name."""
        return self._result("company_name", intake.check_company(value), dispatcher)

    def validate_org_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check the organisation number (optional)."""
        declined = tracker.get_intent_of_latest_message() in ("deny", "cancel")
        checked = intake.check_org_number(value, declined=declined)
        return self._result("org_number", checked, dispatcher)

    def validate_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check the e-mail address or phone number."""
        return self._result("contact", intake.check_contact(value), dispatcher)

    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check the description."""
        return self._result("description", intake.check_description(value), dispatcher)

    def validate_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check the consent answer."""
        return self._result("consent", intake.check_consent(value), dispatcher)


class ValidateCaseStatusForm(FormValidationAction):
    """Check the case reference and the contact detail used to prove it is the user's case."""

    def name(self) -> str:
        """Name in the domain."""
        return "validate_case_status_form"

    def validate_case_ref(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check the reference format."""
        return ValidateContactForm._result("case_ref", intake.check_case_ref(value), dispatcher)

    def validate_status_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check that an e-mail address or phone number was given."""
        checked = intake.check_contact(value)
        return ValidateContactForm._result(
            "status_contact", intake.Checked(value, checked.hint), dispatcher
        )


def _due_text(knowledge: Knowledge, topic: str, created: Any) -> str:
    promise = knowledge.topics[topic].first_response_working_days
    return format_date_sv(add_working_days(created, promise))


class ActionLogContact(Action):
    """Store the completed contact form as a case, exactly once, and give the reference."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_log_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Create the case (idempotently) or keep the answers and offer a retry."""
        slots = tracker.current_slot_values()
        if slots.get("consent") is False:
            dispatcher.utter_message(response="utter_no_consent")
            return _reset_form()
        if not intake.form_complete(slots) or slots.get("consent") is not True:
            dispatcher.utter_message(response="utter_nothing_to_save")
            return _reset_form()
        knowledge = get_knowledge()
        key = intake.idempotency_key(tracker.sender_id, tracker.events)
        new = intake.new_case(slots, tracker.sender_id, key, knowledge)
        try:
            case, created = case_repository().create(new)
        except (SQLAlchemyError, OSError) as error:
            logger.warning(
                "Could not store case (%s); answers kept for retry", type(error).__name__
            )
            dispatcher.utter_message(response="utter_case_save_failed")
            return [SlotSet("save_failed", True), SlotSet("offer_pending", False)]
        logger.info(
            "Case %s %s for topic %s", case.reference, "created" if created else "found", case.topic
        )
        unit = knowledge.units[case.unit]
        dispatcher.utter_message(
            response="utter_case_created",
            reference=case.reference,
            unit=unit.name,
            due=_due_text(knowledge, case.topic, case.created_at),
        )
        return [*_reset_form(), SlotSet("case_ref", case.reference)]


class ActionCaseStatus(Action):
    """Tell the status of a case, only to someone who knows its reference and contact detail."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_case_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Look the case up and answer without revealing whether someone else's case exists."""
        from bot.accounts import first_name

        reference = tracker.get_slot("case_ref") or ""
        given_contact = tracker.get_slot("status_contact")
        events: list[EventType] = [SlotSet("case_ref", None), SlotSet("status_contact", None)]
        try:
            case = case_repository().get_by_reference(reference)
            if case is None or not intake.contact_matches(case, given_contact):
                dispatcher.utter_message(response="utter_case_not_found", reference=reference)
                return events
            official = case_repository().assignee_name(case)
        except (SQLAlchemyError, OSError) as error:
            logger.warning("Could not read case status (%s)", type(error).__name__)
            dispatcher.utter_message(response="utter_case_status_unavailable")
            return events
        unit = get_knowledge().units[case.unit].name
        dispatcher.utter_message(
            response="utter_case_status",
            reference=case.reference,
            status=intake.status_text(case.status),
            # Who handles it: the assigned official's first name only, or the unit.
            unit=f"{first_name(official)} på {unit}" if official else unit,
            created=format_date_sv(case.created_at.astimezone(STOCKHOLM).date()),
        )
        return events
