"""The project's own template filters."""

from __future__ import annotations

import datetime

from django.template import Context, Template
from django.utils import timezone

from handoff.template_filters import ago

NOW = datetime.datetime(2026, 11, 20, 15, 0, tzinfo=datetime.UTC)


def test_under_a_minute_ago_reads_just_now():
    assert ago(NOW - datetime.timedelta(seconds=40), NOW) == "just now"
    assert ago(NOW + datetime.timedelta(seconds=5), NOW) == "just now"  # a clock a little ahead


def test_longer_ago_says_ago():
    assert ago(NOW - datetime.timedelta(minutes=4), NOW) == "4\xa0minutes ago"
    assert ago(NOW - datetime.timedelta(days=2, hours=3), NOW) == "2\xa0days, 3\xa0hours ago"


def test_templates_load_it_as_handoff():
    html = Template("{% load handoff %}{{ when|ago }}").render(Context({"when": timezone.now()}))
    assert html == "just now"


def test_it_speaks_the_interface_language():
    from django.utils import translation

    with translation.override("es"):
        assert ago(NOW - datetime.timedelta(minutes=4), NOW) == "hace 4\xa0minutos"
        assert ago(NOW - datetime.timedelta(seconds=10), NOW) == "hace un momento"


WHEN = datetime.datetime(2026, 3, 5, 15, 30, tzinfo=datetime.UTC)  # 10:30 in New York


def test_a_moment_to_act_by_has_its_weekday_and_the_time_the_english_pages_use():
    html = Template("{% load handoff %}{{ when|day_and_time }}").render(Context({"when": WHEN}))
    assert html == "Thursday, March 5, 2026, 10:30 AM"


def test_dates_in_figures_are_month_first_in_both_languages():
    from django.utils import translation

    page = Template('{{ when|date:"SHORT_DATE_FORMAT" }} {{ when|date:"SHORT_DATETIME_FORMAT" }}')
    assert page.render(Context({"when": WHEN})) == "03/05/2026 03/05/2026 10:30 AM"
    with translation.override("es"):  # not Django's Spanish "05/03/2026"
        assert page.render(Context({"when": WHEN})) == "03/05/2026 03/05/2026 10:30"


def test_a_date_in_words_with_its_time_reads_the_time_as_the_pages_do():
    """The admin and the HSDS import page said "3:45 p.m." where every page says "3:45 PM"."""
    page = Template('{{ when|date:"DATETIME_FORMAT" }}')
    assert page.render(Context({"when": WHEN})) == "March 5, 2026, 10:30 AM"


def test_a_moment_to_act_by_in_spanish_reads_as_spanish_says_it():
    from django.utils import translation

    with translation.override("es"):
        html = Template("{% load handoff %}{{ when|day_and_time }}").render(Context({"when": WHEN}))
    assert html == "jueves, 5 de marzo de 2026 a las 10:30"
