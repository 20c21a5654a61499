"""Background HSDS imports (django-tasks, run by `manage.py db_worker`)."""

from __future__ import annotations

from django_tasks import task


@task()
def run_import_job(job_id: int) -> str:
    """Run one uploaded import; the job records its progress and outcome."""
    from directory.hsds.models import ImportJob

    job = ImportJob.objects.get(pk=job_id)
    job.run()
    return job.status
