-- One erasure, recorded without the ids in clear (ops.erasures).
insert into ops.erasures values ($erasure_id, now(), $erased_by, $users, $user_hashes, $rows_removed, $rows, $files_rewritten)
