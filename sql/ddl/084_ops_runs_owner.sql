-- ops.runs.owner: who runs the night, so that the next run can tell a run that died (kill -9, a lost
-- machine) from one still going: 'pid:<host>:<pid>' for `skipify nightly`, 'airflow:<dag_id>' for the DAG.
-- A run is recorded 'running' when it starts; the next run marks it 'abandoned' if its owner is gone.
ALTER TABLE ops.runs ADD COLUMN owner VARCHAR;
