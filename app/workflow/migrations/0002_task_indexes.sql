-- Indexes the load benchmark (bench/README.md) found missing on wf_task, measured on the seeded
-- year (100 000 公文, 296 000 tasks):
-- * run_id alone: the engine looks tasks up by their node run (completion, cancel, recall);
--   only (instance_id, run_id) existed, so these were full index scans (4-11 ms each).
-- * parent_task_id: 加签 and 撤回 look up the tasks a task added; with source_task_id and
--   run_id it lets the recall check's OR query (run on every view of a running instance
--   with one of my done tasks) use a BitmapOr instead of a parallel seq scan (35 ms -> 0.3 ms).
-- * 已办: my done/transferred tasks newest first, read in order instead of sorting all of a
--   leader's thousands of done tasks (128 ms -> 0.1 ms per page).
CREATE INDEX wf_task_run ON wf_task (run_id);
CREATE INDEX wf_task_parent ON wf_task (parent_task_id) WHERE parent_task_id IS NOT NULL;
CREATE INDEX wf_task_assignee_done ON wf_task (assignee_id, acted_at DESC, id DESC)
    WHERE status IN ('done', 'transferred');
