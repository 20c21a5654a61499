from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Start the periodic overdue-referral sweep (it reschedules itself on the worker). "
        "Safe to run again: nothing is added while a sweep is already waiting."
    )

    def handle(self, *args, **options) -> None:
        from django_tasks_db.models import DBTaskResult

        from referrals.tasks import sweep_overdue_referrals

        waiting = DBTaskResult.objects.filter(
            task_path__endswith="sweep_overdue_referrals", status__in=["READY", "RUNNING"]
        ).exists()
        if waiting:
            self.stdout.write("The overdue sweep is already scheduled.")
            return
        sweep_overdue_referrals.enqueue()
        self.stdout.write("The overdue sweep is scheduled; `manage.py db_worker` runs it.")
