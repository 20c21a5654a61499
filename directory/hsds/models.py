"""ImportJob: one HSDS upload, its progress while it runs and what came of it.

Imported from directory.models, so it belongs to the directory app.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connection, connections, models
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


class ImportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Imported")
        FAILED = "failed", _("Not imported")

    file_name = models.CharField(_("file"), max_length=255)
    file_size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    # The upload itself, until the job has run: a worker on another machine can read it here.
    data = models.BinaryField(editable=False, default=b"")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    phase = models.CharField(_("step"), max_length=12, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    summary = models.JSONField(_("summary"), default=list, blank=True)
    problems = models.JSONField(_("problems"), default=list, blank=True)
    more_problems = models.PositiveIntegerField(default=0)
    warnings = models.JSONField(_("notes"), default=list, blank=True)
    # The uploader's language, for the problems a worker writes in another process.
    language = models.CharField(_("language"), max_length=10, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("HSDS import")
        verbose_name_plural = _("HSDS imports")

    def __str__(self) -> str:
        return self.file_name

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def phase_label(self) -> str:
        from directory.hsds.progress import PHASES

        return str(PHASES.get(self.phase, self.phase))

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        # Reading, checking and saving each take about a third of the time.
        share = {"read": (0, 10), "check": (10, 40), "save": (40, 100)}.get(self.phase, (0, 0))
        return share[0] + (share[1] - share[0]) * self.done // max(self.total, 1)

    def run(self) -> None:
        """Import the uploaded file (all or nothing) and record the outcome on this job, its
        problems and notes written in the language of the person who uploaded it."""
        with translation.override(self.language or settings.LANGUAGE_CODE):
            self._run()

    def _run(self) -> None:
        from directory.hsds.importer import ImportFailed, import_upload

        # Only one worker may run a job, even if the task is delivered twice.
        claimed = ImportJob.objects.filter(pk=self.pk, status=self.Status.QUEUED).update(
            status=self.Status.RUNNING, started_at=timezone.now()
        )
        if not claimed:
            return
        data = bytes(ImportJob.objects.values_list("data", flat=True).get(pk=self.pk))
        outcome: dict = {"data": b"", "finished_at": None}
        try:
            result = import_upload(self.file_name, data, progress=JobProgress(self.pk))
        except ImportFailed as failed:
            outcome.update(
                status=self.Status.FAILED,
                problems=[p.as_dict() for p in failed.report.problems],
                more_problems=failed.report.more_problems,
                warnings=failed.report.warnings,
            )
        except Exception:
            logger.exception("HSDS import job %s crashed", self.pk)
            outcome.update(
                status=self.Status.FAILED,
                problems=[
                    {
                        "file": self.file_name,
                        "row": None,
                        "field": None,
                        "message": gettext(
                            "the import stopped on an unexpected error; nothing was changed"
                        ),
                    }
                ],
            )
            raise
        else:
            outcome.update(
                status=self.Status.SUCCEEDED,
                summary=result.lines(),
                warnings=result.warnings,
                phase="save",
                done=models.F("total"),
            )
        finally:
            outcome["finished_at"] = timezone.now()
            ImportJob.objects.filter(pk=self.pk).update(**outcome)
            self.refresh_from_db()


class JobProgress:
    """Writes an import's progress to its job, at most twice a second, for the page polling it."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.last = 0.0
        # How deep in transactions the caller already is (a test runs inside one).
        self.outer_depth = (connection.in_atomic_block, len(connection.savepoint_ids))

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.5:
            return
        self.last = now
        values = {"phase": phase, "done": done, "total": total}
        if (connection.in_atomic_block, len(connection.savepoint_ids)) == self.outer_depth:
            ImportJob.objects.filter(pk=self.job_id).update(**values)
        elif connection.vendor == "postgresql":
            # The import's transaction is open on this connection and would hide the update
            # until it ends; a short-lived thread writes it on a connection of its own.
            # (SQLite allows one writer at a time, so there the saving step shows no steps.)
            writer = threading.Thread(target=self._write_elsewhere, args=(values,))
            writer.start()
            writer.join()

    def _write_elsewhere(self, values: dict) -> None:
        try:
            ImportJob.objects.filter(pk=self.job_id).update(**values)
        finally:
            connections.close_all()
