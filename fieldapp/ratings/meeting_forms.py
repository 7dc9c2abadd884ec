"""Review-meeting forms: input shape only; meetings.py decides what is allowed."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..core.forms import IdemKeyField, VersionField
from . import rules
from .meetings import AGENDA_LABELS, MEMBER_ROLE_LABELS, MODE_LABELS, RELATION_LABELS, RELATIONS

BALLOT_LABELS = {"yes": _l("Yes"), "no": _l("No"), "abstain": _l("Abstain")}


class MeetingForm(FlaskForm):
    held_on = DateField(_l("Date of the meeting"), validators=[DataRequired(_l("Enter the date."))])
    location = StringField(_l("Place"), validators=[Optional(), Length(max=100)])
    mode = RadioField(_l("How the committee votes"), choices=list(MODE_LABELS.items()), default="phones",
                      validators=[DataRequired(_l("Choose how the committee votes."))])
    chair = SelectField(_l("Chair (village secretary)"), validate_choice=False,
                        validators=[DataRequired(_l("Choose the chair."))])
    idem_key = IdemKeyField()


class MemberForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=50)])
    role = SelectField(_l("Role on the committee"), choices=list(MEMBER_ROLE_LABELS.items()),
                       validators=[DataRequired(_l("Choose the member's role on the committee."))])
    party_member = BooleanField(_l("Party member"))
    user = SelectField(_l("Votes on their own phone as"), validate_choice=False, validators=[Optional()])
    idem_key = IdemKeyField()


class RecusalForm(FlaskForm):
    member = SelectField(_l("Committee member"), validate_choice=False,
                         validators=[DataRequired(_l("Choose the member."))])
    household = SelectField(_l("Household"), validate_choice=False,
                            validators=[DataRequired(_l("Choose the household."))])
    relation = SelectField(_l("Relation to the household"), choices=[(r, RELATION_LABELS[r]) for r in RELATIONS],
                           validators=[DataRequired(_l("Choose how the member is related to the household."))])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
    idem_key = IdemKeyField()


class TellersForm(FlaskForm):
    monitor = StringField(_l("Vote monitor (监票人)"), validators=[DataRequired(_l("Name the vote monitor.")),
                                                                Length(max=50)])
    counter = StringField(_l("Vote counter (计票人)"), validators=[DataRequired(_l("Name the vote counter.")),
                                                                Length(max=50)])
    version = VersionField()


class StepForm(FlaskForm):
    step = SelectField(_l("Agenda step"), choices=list(AGENDA_LABELS.items()))
    step_note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
    version = VersionField()


class VersionOnlyForm(FlaskForm):
    """Attendance, refresh, open, close, cancel: the meeting version the page was rendered from."""

    version = VersionField()


def ballot_form(formdata=None, **kwargs):
    """The 12 checklist questions (yes/no/abstain) and the committee veto flags, one submit."""

    class BallotForm(FlaskForm):
        version = VersionField()

    for code in rules.CHECKLIST:
        setattr(BallotForm, f"q_{code}", RadioField(
            _l(rules.CHECKLIST_LABELS[code]), choices=list(BALLOT_LABELS.items()),
            validators=[InputRequired(_l("Answer: yes, no or abstain."))]))
    for code in rules.COMMITTEE_VETOES:
        setattr(BallotForm, f"veto_{code}", BooleanField(_l(rules.VETO_LABELS[code])))
    return BallotForm(formdata=formdata, **kwargs) if formdata is not None else BallotForm(**kwargs)


def paper_form(formdata=None, **kwargs):
    """A paper sheet's counts: voters, yes per checklist item, votes per committee veto."""

    class PaperForm(FlaskForm):
        version = VersionField()
        voters = IntegerField(_l("Voters"), validators=[InputRequired(_l("Enter the number of voters.")),
                                                        NumberRange(min=1, max=99)])

    for code in rules.CHECKLIST:
        setattr(PaperForm, f"yes_{code}", IntegerField(
            _l(rules.CHECKLIST_LABELS[code]), validators=[InputRequired(_l("Enter the count (0 if none).")),
                                                          NumberRange(min=0, max=99)]))
    for code in rules.COMMITTEE_VETOES:
        setattr(PaperForm, f"veto_{code}", IntegerField(
            _l(rules.VETO_LABELS[code]), default=0, validators=[InputRequired(_l("Enter the count (0 if none).")),
                                                                NumberRange(min=0, max=99)]))
    return PaperForm(formdata=formdata, **kwargs) if formdata is not None else PaperForm(**kwargs)
