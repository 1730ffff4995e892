-- One trained version.
insert into models.registry (version, created_at, as_of, train_from, valid_from, test_from, test_to, params, metrics,
                             artefacts, status, gate_verdict, gate_reasons, served_model, gate_figures,
                             kinds, baseline_model, domain_served)
values (
    $version, now(), $as_of, $train_from, $valid_from, $test_from, $test_to,
    $params, $metrics, $artefacts, $status, $gate_verdict, $gate_reasons, $served_model, $gate_figures,
    $kinds, $baseline_model, $domain_served
)
