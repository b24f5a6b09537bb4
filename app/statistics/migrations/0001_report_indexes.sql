-- Indexes for the fixed statistics reports (统计分析), on tables of workflow and 公文, which
-- this feature reads but does not own. Measured on the benchmark's seeded year by
-- bench/reports.py (bench/README.md, section 统计报表).
-- * 办理时效 / 工作量: tasks handled in a date range. The index carries every column the reports
--   read, so a range shorter than the year is an index-only scan instead of a scan of wf_task.
CREATE INDEX stat_task_done_acted ON wf_task (acted_at)
    INCLUDE (assignee_id, instance_id, created_at, due_at, kind, node_key, node_name)
    WHERE status = 'done';
-- * 待办积压: the open tasks (a few thousand among hundreds of thousands).
CREATE INDEX stat_task_pending ON wf_task (assignee_id) INCLUDE (created_at, due_at)
    WHERE status IN ('open', 'waiting');
-- * 公文统计: 发文 by 拟稿 date and 收文 by 收文 date over a range.
CREATE INDEX stat_outgoing_created ON outgoing_document (created_at);
CREATE INDEX stat_incoming_received ON incoming_document (received_on);
