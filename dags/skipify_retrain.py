"""skipify_retrain: daily (03:00 UTC) train, evaluate and gate a new model version.

features -> train (LightGBM + deep, evaluation on the test split, tower vectors, registry, gate) -> report

From scratch on `retrain_full_weekday` (Sunday), a warm start of the served version on the plays since its
training window the other days (`skipify.train.retrain`; SKIPIFY_RETRAIN_FULL_WEEKDAY=none: from scratch daily).

The champion only changes when the gate says so (docs/models.md); the next night scores with it.
Each task is one call into the `skipify` package, imported inside the task.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, dag, task


@dag(
    dag_id="skipify_retrain",
    schedule=CronTriggerTimetable("0 3 * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,  # only the latest data matters for a new model
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=2),
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=10), "execution_timeout": dt.timedelta(minutes=60)},
    tags=["skipify"],
    doc_md=__doc__,
)
def skipify_retrain():
    @task
    def features(logical_date=None) -> str:
        from skipify.features import build_features

        as_of = logical_date.astimezone(dt.timezone.utc).date()
        build_features(as_of)
        return str(as_of)

    @task
    def train(as_of: str) -> dict:
        from skipify.train import outcome, retrain

        r = retrain(dt.date.fromisoformat(as_of))
        return {"version": r["version"], "promoted": r["promoted"], "served_model": r["served_model"], "line": outcome(r)}

    @task
    def report(result: dict) -> str:
        print(result["line"])
        return result["line"]

    report(train(features()))


skipify_retrain()
