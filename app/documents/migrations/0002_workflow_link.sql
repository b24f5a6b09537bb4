-- 公文 on the workflow engine: a document's flow instance is a real row of wf_instance.
ALTER TABLE outgoing_document
    ADD CONSTRAINT outgoing_document_workflow_instance_fk
    FOREIGN KEY (workflow_instance_id) REFERENCES wf_instance (id);
ALTER TABLE incoming_document
    ADD CONSTRAINT incoming_document_workflow_instance_fk
    FOREIGN KEY (workflow_instance_id) REFERENCES wf_instance (id);
CREATE INDEX incoming_document_instance ON incoming_document (workflow_instance_id);
-- the archive browser filters by 年度, 保管期限 and 机构代码
CREATE INDEX doc_archive_browse ON doc_archive (year DESC, retention, org_code);
-- 撤回 (recall) takes a node's opinion back: the flow deletes that task's doc_opinion rows
GRANT DELETE ON doc_opinion TO {{runtime_role}};
