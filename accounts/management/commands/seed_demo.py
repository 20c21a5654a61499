from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.demo import DEMO_PASSWORD, seed_people


class Command(BaseCommand):
    help = "Load the demo organizations, people and data. Safe to run again."

    def handle(self, *args, **options) -> None:
        seeded = seed_people(with_known_password=settings.DEBUG)
        for extra in self.extra_seeders():
            extra(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        if not settings.DEBUG:
            self.stdout.write(
                "DEBUG is off, so demo people have no password. Use “Forgot your password?” "
                "or `manage.py changepassword EMAIL` to set one."
            )
            return
        self.stdout.write("")
        self.stdout.write("Demo sign-ins (every password is the same):")
        self.stdout.write(f"  password: {DEMO_PASSWORD}")
        current = None
        for organization, person in seeded:
            if organization.name != current:
                current = organization.name
                self.stdout.write(f"  {organization.name}")
            self.stdout.write(f"    {person.role:<10} {person.email}")

    def extra_seeders(self):
        """Demo data of other apps (directory, patients, …), added as their issues land."""
        from directory.demo import seeder as directory_seeder
        from referrals.demo import seeder as referrals_seeder

        return [directory_seeder(), referrals_seeder()]
