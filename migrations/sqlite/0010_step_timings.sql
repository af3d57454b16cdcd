-- Step timings: a journal entry's `created_at` is when the step began (its first attempt), given by the
-- engine with the entry; `updated_at` is when it last changed, so a finished step's duration is
-- updated_at - created_at. SQLite's journal statements live in the code (src/work/workflow/flush-sqlite.ts),
-- so nothing changes in its schema; this file keeps both dialects at the same migration number.
SELECT 1;
