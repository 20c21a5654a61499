"""The admin's HSDS pages: upload an import, watch it run, download an export.

Registered from directory.admin. Small uploads import during the request; larger ones go to
a background task and the job page polls its progress.
"""

from __future__ import annotations

import contextlib
import tempfile

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.vary import vary_on_headers

from directory.hsds.exporter import write_zip
from directory.hsds.models import ImportJob
from directory.hsds.tasks import run_import_job

# Uploads up to this size import while the page waits; larger ones run in the background.
INLINE_IMPORT_MAX_BYTES = 2 * 1024 * 1024


def inline_import_max_bytes() -> int:
    return getattr(settings, "HSDS_INLINE_IMPORT_MAX_BYTES", INLINE_IMPORT_MAX_BYTES)


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("HSDS file"),
        help_text=_(
            "A .zip data package (CSV files with datapackage.json) or an HSDS .json file of services."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".zip", ".json")):
            raise forms.ValidationError(_("Choose a .zip data package or a .json file."))
        return upload


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["job_link", "status", "created_at", "created_by", "first_line"]
    list_display_links = None
    list_filter = ["status"]
    list_select_related = ["created_by"]

    @admin.display(description=_("file"), ordering="file_name")
    def job_link(self, job: ImportJob) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:directory_importjob_progress", args=[job.pk]),
            job.file_name,
        )

    @admin.display(description=_("outcome"))
    def first_line(self, job: ImportJob) -> str:
        if job.status == ImportJob.Status.FAILED:
            return _("%(n)d problem(s)") % {"n": len(job.problems) + job.more_problems}
        return "; ".join(job.summary[:3])

    def get_urls(self):
        urls = [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="directory_importjob_upload",
            ),
            path(
                "<int:pk>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="directory_importjob_progress",
            ),
            path(
                "export.zip",
                self.admin_site.admin_view(self.export_view),
                name="directory_importjob_export",
            ),
        ]
        return urls + super().get_urls()

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a job is a record of what happened

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:directory_importjob_upload"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:directory_importjob_progress", args=[object_id]))

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "hsds_links": True}
        return super().changelist_view(request, extra_context)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            job = ImportJob.objects.create(
                file_name=upload.name[:255],
                file_size=upload.size,
                data=upload.read(),
                created_by=request.user,
                language=translation.get_language() or "",
            )
            if upload.size <= inline_import_max_bytes():
                # A crash is logged and recorded on the job, which the next page shows.
                with contextlib.suppress(Exception):
                    job.run()
            else:
                # Enqueue after commit so the worker finds the job row.
                transaction.on_commit(lambda: run_import_job.enqueue(job.pk))
            return HttpResponseRedirect(
                reverse("admin:directory_importjob_progress", args=[job.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import HSDS data"),
            "form": form,
            "inline_max_mb": inline_import_max_bytes() / 1024 / 1024,
        }
        return TemplateResponse(
            request, "admin/directory/hsds_import.html", context, status=400 if form.errors else 200
        )

    @vary_on_headers("HX-Request")
    def progress_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(ImportJob.objects.defer("data"), pk=pk)
        template = "admin/directory/hsds_import_job.html"
        if getattr(request, "htmx", False):
            template += "#progress"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("HSDS import: %(file)s") % {"file": job.file_name},
            "job": job,
        }
        return TemplateResponse(request, template, context)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        # Small directories stay in memory, big ones spill to disk.
        out = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 - FileResponse closes it
        write_zip(out)
        out.seek(0)
        name = f"handoff-hsds-{timezone.localdate():%Y-%m-%d}.zip"
        return FileResponse(out, as_attachment=True, filename=name, content_type="application/zip")
