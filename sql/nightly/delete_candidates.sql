-- Clear a night's candidates before writing them again (a re-run replaces them).
delete from scores.candidates where run_date = $run_date
