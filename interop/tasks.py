"""Background work for EHR sync (django-tasks, run by `manage.py db_worker`)."""

from __future__ import annotations

from django_tasks import task


@task()
def send_outbox() -> dict:
    """Send every outbox message that is due, in order per aggregate; plan the next run."""
    from interop.outbox import send_due

    report = send_due()
    return {
        "sent": report.sent,
        "retrying": report.retrying,
        "rejected": report.rejected,
        "superseded": report.superseded,
    }
