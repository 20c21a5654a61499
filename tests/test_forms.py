"""The project's form renderer: lists of choices render as USWDS checkboxes and radios."""

from __future__ import annotations

from django.test.html import parse_html
from pytest_django.asserts import assertInHTML

from directory.forms import QuickBoundField, ScheduleForm, ServiceEditForm
from referrals.forms import OutcomeForm


def test_a_checkbox_list_is_a_fieldset_of_uswds_checkboxes_named_by_its_legend():
    html = ScheduleForm(initial={"days": ["TH"]})["days"].as_field_group()

    assert "usa-select" not in html and "usa-input" not in html
    assert html.count('class="usa-checkbox"') == 7
    assertInHTML(
        '<legend class="usa-legend">Days'
        ' <span class="usa-hint usa-hint--required" aria-hidden="true">*</span></legend>',
        html,
    )
    assertInHTML(
        '<div class="usa-checkbox"><input type="checkbox" name="days" value="TH" id="id_days_3"'
        ' class="usa-checkbox__input" checked>'
        '<label class="usa-checkbox__label" for="id_days_3">Thursday</label></div>',
        html,
    )
    fieldset = parse_html(html).children[0]
    assert fieldset.name == "fieldset" and fieldset.children[0].name == "legend"


def test_the_languages_list_on_the_service_form_is_uswds_checkboxes():
    html = ServiceEditForm(initial={"languages": ["es"]})["languages"].as_field_group()

    assert "usa-select" not in html
    assertInHTML('<legend class="usa-legend">Languages spoken</legend>', html)
    assertInHTML(
        '<div class="usa-checkbox"><input type="checkbox" name="languages" value="es"'
        ' id="id_languages_1" class="usa-checkbox__input" checked>'
        '<label class="usa-checkbox__label" for="id_languages_1">Spanish</label></div>',
        html,
    )


def test_a_radio_list_is_a_fieldset_of_uswds_radios_and_its_error_describes_the_group():
    form = OutcomeForm(data={})
    form.is_valid()
    html = form["outcome"].as_field_group()

    assert "usa-input" not in html
    assert html.count('class="usa-radio"') == 3
    assertInHTML(
        '<div class="usa-radio"><input type="radio" name="outcome" value="met" id="id_outcome_0"'
        ' class="usa-radio__input" required aria-invalid="true">'
        '<label class="usa-radio__label" for="id_outcome_0">Need met</label></div>',
        html,
    )
    assert '<fieldset class="usa-fieldset" aria-describedby="id_outcome_error">' in html
    assert 'id="id_outcome_error"' in html
    assert 'class="usa-legend usa-label--error"' in html


def test_the_python_written_field_group_leaves_a_choice_list_to_the_template():
    form = ScheduleForm()
    form.bound_field_class = QuickBoundField
    quick = form["days"]
    assert type(quick) is QuickBoundField
    assert parse_html(quick.as_field_group()) == parse_html(ScheduleForm()["days"].as_field_group())


def test_a_field_with_an_error_gets_the_uswds_error_border_and_one_without_does_not(db):
    from django import forms

    from directory.forms import SearchForm

    class Plain(forms.Form):
        name = forms.CharField()
        kind = forms.ChoiceField(choices=[("a", "A")])
        note = forms.CharField(widget=forms.Textarea)

    form = Plain(data={"name": "", "kind": "z", "note": ""})
    assert not form.is_valid()
    for name in ("name", "kind", "note"):
        assert "usa-input--error" in str(form[name]), name
    assert "usa-input--error" not in str(Plain()["name"])
    # The search form's widgets, written in Python, say the same.
    search = SearchForm(data={"zip": "9999", "age": "200"})
    assert not search.is_valid()
    assert "usa-input--error" in str(search["zip"]) and "usa-input--error" in str(search["age"])
    assert "usa-input--error" not in str(search["q"])


def test_a_checkbox_shows_its_hint_where_its_description_points():
    """The consent form's "Answers about safety at home are never shared" sat in no page: the
    box's aria-describedby named a hint that a checkbox never wrote."""
    from django import forms

    from referrals.views import _consent_form

    field = _consent_form()["share_screening"]
    html = field.as_field_group()

    assert 'aria-describedby="id_share_screening_helptext"' in html
    assertInHTML(
        '<div class="usa-hint" id="id_share_screening_helptext">Only the answers to the questions'
        " about the need this referral is for. Answers about safety at home are never shared."
        "</div>",
        html,
    )

    class Hinted(forms.Form):  # and the Python-written field group writes the same
        ok = forms.BooleanField(label="Only accepting", help_text="Hides the others.")

    form = Hinted()
    form.bound_field_class = QuickBoundField
    assert parse_html(form["ok"].as_field_group()) == parse_html(Hinted()["ok"].as_field_group())
    assert 'id="id_ok_helptext">Hides the others.</div>' in form["ok"].as_field_group()
