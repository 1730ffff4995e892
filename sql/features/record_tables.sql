-- Log the definitions the features tables now hold ($names, $definitions: lists, same order).
insert into ops.feature_tables select unnest($names), unnest($definitions), now()
