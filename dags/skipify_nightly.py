"""skipify_nightly: one night of dislike scores, every day at 02:00 UTC (after the day's landing files).

ingest -> features -> snapshot -> score (one mapped task per user shard: its candidates, then its scores) -> publish -> maintain

The night scored is the run's logical date (UTC): the run of 2026-03-02 02:00 scores 2026-03-02 with
everything known before 2026-03-02 00:00. The scheduler runs the nights from `nightly_first_night` on
(to `nightly_last_night`, when set: SKIPIFY_NIGHTLY_FIRST_NIGHT, SKIPIFY_NIGHTLY_LAST_NIGHT). catchup=True,
so `airflow backfill create --dag-id skipify_nightly --from-date D1 --to-date D2` (or past dates after a
pause) runs the missed nights, one at a time, in order. Each task is one call into `skipify.nightly`; the package is imported inside the
task so this file parses in milliseconds. The same functions run `skipify nightly`.

The night is recorded in ops.runs under the DAG run's id, owned by this DAG: the first task records it
running, publish (or the failure callback) records its end; a DAG run that died on the way is marked
abandoned when the next one starts (max_active_runs=1: runs never overlap).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, dag, task

from skipify.config import load_config  # the standard library only: this file still parses in milliseconds

NIGHTS = load_config()  # nightly_first_night, nightly_last_night: the nights the scheduler runs

RETRIES = {
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=20),
    "execution_timeout": dt.timedelta(minutes=45),  # one stage; the reference night takes ~15 min in all
}


OWNER = "airflow:skipify_nightly"  # the owner of the night in ops.runs (see skipify.nightly.begin_run)


def _night(logical_date) -> dt.date:
    return logical_date.astimezone(dt.timezone.utc).date()


def _record_failure(context) -> None:
    """A task that fails for good marks the night failed in ops.runs (publish records its own checks)."""
    from skipify.config import load_config
    from skipify.nightly import record_failure

    ti = context["ti"]
    record_failure(_night(context["logical_date"]), f"airflow task {ti.task_id} failed: {context.get('exception')}", load_config(),
                   run_id=context["run_id"])


@dag(
    dag_id="skipify_nightly",
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC"),
    start_date=dt.datetime.combine(NIGHTS.nightly_first_night, dt.time(), dt.timezone.utc),
    end_date=dt.datetime.combine(NIGHTS.nightly_last_night, dt.time(23, 59), dt.timezone.utc) if NIGHTS.nightly_last_night else None,
    catchup=True,
    max_active_runs=1,  # nights in order: each night's row-count check compares with the previous one
    dagrun_timeout=dt.timedelta(hours=3),
    default_args={**RETRIES, "on_failure_callback": _record_failure},
    tags=["skipify"],
    doc_md=__doc__,
)
def skipify_nightly():
    @task
    def ingest(logical_date=None, run_id=None) -> int:
        """Records the night as running (marking a dead earlier run abandoned), then ingests its landing files."""
        from skipify.nightly import begin_run, ingest_landing

        begin_run(_night(logical_date), run_id, OWNER)
        return ingest_landing(_night(logical_date))

    @task
    def features(logical_date=None) -> None:
        from skipify.nightly import build_night_features

        build_night_features(_night(logical_date))

    @task
    def snapshot(logical_date=None) -> list[int]:
        """Writes the night's serving snapshot, which every shard (and the API's workers) maps; returns the shard
        numbers to map over."""
        from skipify.nightly import share_snapshot

        share_snapshot(_night(logical_date))
        return list(range(NIGHTS.nightly_shards))

    @task(max_active_tis_per_dagrun=4)
    def score(shard: int, logical_date=None) -> int:
        """One shard of listeners: their candidates, then their scores."""
        from skipify.nightly import night_shard

        return night_shard(_night(logical_date), shard)

    @task
    def publish(logical_date=None, run_id=None) -> dict:
        from skipify.nightly import publish as publish_night

        report = publish_night(_night(logical_date), run_id=run_id)
        return {"status": report.status, "rows": report.rows, "model_version": report.model_version}

    @task
    def maintain() -> dict:
        """Deletes data files left by killed writers, expires old snapshots and their files."""
        from skipify.warehouse import maintain as maintain_lake

        return maintain_lake()

    shards = snapshot()
    ingest() >> features() >> shards
    score.expand(shard=shards) >> publish() >> maintain()


skipify_nightly()
