from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Start the periodic overdue-referral sweep (it reschedules itself on the worker), and "
        "the EHR outbox sender if it has work and none is waiting (a crashed worker's work is "
        "picked up). Safe to run again: nothing is added while a sweep is already waiting."
    )

    def handle(self, *args, **options) -> None:
        from django.apps import apps
        from django_tasks_db.models import DBTaskResult

        if apps.is_installed("interop"):
            from interop.outbox import schedule_sender

            if schedule_sender():
                self.stdout.write("The EHR outbox sender is scheduled for the waiting changes.")

        from referrals.tasks import sweep_overdue_referrals

        waiting = DBTaskResult.objects.filter(
            task_path__endswith="sweep_overdue_referrals", status__in=["READY", "RUNNING"]
        ).exists()
        if waiting:
            self.stdout.write("The overdue sweep is already scheduled.")
            return
        sweep_overdue_referrals.enqueue()
        self.stdout.write("The overdue sweep is scheduled; `manage.py db_worker` runs it.")
