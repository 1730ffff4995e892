-- The trials of one tuning run (from the registered frame new_tuning).
insert into models.tuning
select run_id, now(), model, trial, params, valid_roc_auc, seconds, chosen from new_tuning
