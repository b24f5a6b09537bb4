"""Peewee models of 公文; the schema itself is in migrations/."""

from __future__ import annotations

import peewee as pw
from playhouse.postgres_ext import ArrayField, BinaryJSONField

from app.core.db import BaseModel
from app.org.models import Department, User


class Counter(BaseModel):
    kind = pw.TextField()
    code = pw.TextField()
    year = pw.IntegerField()
    last_value = pw.IntegerField()

    class Meta:
        table_name = "doc_counter"
        primary_key = pw.CompositeKey("kind", "code", "year")


class NumberRule(BaseModel):
    department = pw.ForeignKeyField(Department, primary_key=True, column_name="department_id")
    pattern = pw.TextField()
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "doc_number_rule"


class ArchiveOrgCode(BaseModel):
    department = pw.ForeignKeyField(Department, primary_key=True, column_name="department_id")
    code = pw.TextField()

    class Meta:
        table_name = "doc_archive_org_code"


class OutgoingDocument(BaseModel):
    status = pw.TextField(default="draft")
    workflow_instance_id = pw.BigIntegerField(null=True)
    lock_version = pw.IntegerField(default=1)
    doc_number = pw.TextField(null=True)
    number_code = pw.TextField(null=True)
    number_year = pw.IntegerField(null=True)
    number_seq = pw.IntegerField(null=True)
    numbered_at = pw.DateTimeField(null=True)
    serial_no = pw.TextField()
    secrecy = pw.SmallIntegerField(default=0)
    secrecy_years = pw.SmallIntegerField(null=True)
    copy_no = pw.TextField(default="")
    urgency = pw.TextField(default="普通")
    title = pw.TextField()
    attachment_titles = BinaryJSONField(default=list)
    main_to = pw.TextField(default="")
    main_to_copies = pw.IntegerField(default=0)
    main_to_dept_ids = ArrayField(pw.BigIntegerField, default=list)
    cc = pw.TextField(default="")
    cc_copies = pw.IntegerField(default=0)
    cc_dept_ids = ArrayField(pw.BigIntegerField, default=list)
    internal_cc = pw.TextField(default="")
    internal_cc_copies = pw.IntegerField(default=0)
    internal_cc_user_ids = ArrayField(pw.BigIntegerField, default=list)
    keywords = pw.TextField(default="")
    disclosure = pw.TextField(default="not_public")
    is_normative = pw.BooleanField(default=False)
    is_policy = pw.BooleanField(default=False)
    doc_type = pw.TextField()
    direction = pw.TextField(default="down")
    is_major_decision = pw.BooleanField(default=False)
    signer = pw.ForeignKeyField(User, null=True, column_name="signer_id", lazy_load=False)
    signer_name = pw.TextField(default="")
    signed_at = pw.DateTimeField(null=True)
    issued_on = pw.DateField(null=True)
    countersign_dept_ids = ArrayField(pw.BigIntegerField, default=list)
    drafting_department = pw.ForeignKeyField(Department, column_name="drafting_department_id",
                                             lazy_load=False)
    drafter = pw.ForeignKeyField(User, column_name="drafter_id", lazy_load=False)
    contact_phone = pw.TextField(default="")
    typist = pw.TextField(default="")
    proofreader = pw.TextField(default="")
    seal_supervisor = pw.ForeignKeyField(User, null=True, column_name="seal_supervisor_id",
                                         lazy_load=False)
    seal_supervisor_name = pw.TextField(default="")
    seal_text = pw.TextField(default="")
    sealed_at = pw.DateTimeField(null=True)
    send_method = pw.TextField(default="电子公文交换")
    joint_issuers = BinaryJSONField(default=list)
    note = pw.TextField(default="")
    issuing_authority = pw.TextField(default="")
    header_text = pw.TextField(default="")
    printed_by = pw.TextField(default="")
    printed_on = pw.DateField(null=True)
    distributed_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "outgoing_document"


class Opinion(BaseModel):
    document = pw.ForeignKeyField(OutgoingDocument, column_name="document_id", lazy_load=False)
    kind = pw.TextField()
    department = pw.ForeignKeyField(Department, null=True, column_name="department_id",
                                    lazy_load=False)
    user = pw.ForeignKeyField(User, column_name="user_id", lazy_load=False)
    user_name = pw.TextField()
    department_name = pw.TextField(default="")
    text = pw.TextField(default="")
    task_id = pw.BigIntegerField(null=True)
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "doc_opinion"


class IncomingDocument(BaseModel):
    status = pw.TextField(default="registered")
    workflow_instance_id = pw.BigIntegerField(null=True)
    receipt_no = pw.TextField(null=True)
    receipt_code = pw.TextField(null=True)
    receipt_year = pw.IntegerField(null=True)
    receipt_seq = pw.IntegerField(null=True)
    source_unit = pw.TextField()
    source_number = pw.TextField(default="")
    title = pw.TextField()
    secrecy = pw.SmallIntegerField(default=0)
    urgency = pw.TextField(default="普通")
    copies = pw.IntegerField(default=1)
    received_on = pw.DateField()
    due_on = pw.DateField(null=True)
    department = pw.ForeignKeyField(Department, column_name="department_id", lazy_load=False)
    registered_by = pw.ForeignKeyField(User, null=True, column_name="registered_by_id",
                                       lazy_load=False)
    registered_at = pw.DateTimeField(null=True)
    source_document = pw.ForeignKeyField(OutgoingDocument, null=True,
                                         column_name="source_document_id", lazy_load=False)
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "incoming_document"


class IncomingLink(BaseModel):
    document = pw.ForeignKeyField(OutgoingDocument, column_name="document_id", lazy_load=False)
    incoming = pw.ForeignKeyField(IncomingDocument, column_name="incoming_id", lazy_load=False)

    class Meta:
        table_name = "doc_incoming_link"
        primary_key = pw.CompositeKey("document", "incoming")


class DocFile(BaseModel):
    document = pw.ForeignKeyField(OutgoingDocument, null=True, column_name="document_id",
                                  lazy_load=False)
    incoming = pw.ForeignKeyField(IncomingDocument, null=True, column_name="incoming_id",
                                  lazy_load=False)
    role = pw.TextField()
    title = pw.TextField(default="")
    sort_order = pw.IntegerField(default=0)
    current_version = pw.IntegerField(default=1)
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "doc_file"


class FileVersion(BaseModel):
    file = pw.ForeignKeyField(DocFile, column_name="file_id", lazy_load=False)
    version = pw.IntegerField()
    original_name = pw.TextField()
    storage_name = pw.TextField()
    kind = pw.TextField()
    size = pw.BigIntegerField()
    sha256 = pw.TextField()
    text = pw.TextField(default="")
    uploaded_by = pw.ForeignKeyField(User, column_name="uploaded_by_id", lazy_load=False)
    uploaded_by_name = pw.TextField()
    uploaded_at = pw.DateTimeField()

    class Meta:
        table_name = "doc_file_version"


class Distribution(BaseModel):
    document = pw.ForeignKeyField(OutgoingDocument, column_name="document_id", lazy_load=False)
    recipient_kind = pw.TextField()
    recipient_name = pw.TextField()
    department = pw.ForeignKeyField(Department, null=True, column_name="department_id",
                                    lazy_load=False)
    user = pw.ForeignKeyField(User, null=True, column_name="user_id", lazy_load=False)
    copies = pw.IntegerField(default=1)
    incoming = pw.ForeignKeyField(IncomingDocument, null=True, column_name="incoming_id",
                                  lazy_load=False)
    sent_by = pw.ForeignKeyField(User, null=True, column_name="sent_by_id", lazy_load=False)
    sent_at = pw.DateTimeField()

    class Meta:
        table_name = "doc_distribution"


class ArchiveItem(BaseModel):
    document = pw.ForeignKeyField(OutgoingDocument, null=True, column_name="document_id",
                                  lazy_load=False)
    incoming = pw.ForeignKeyField(IncomingDocument, null=True, column_name="incoming_id",
                                  lazy_load=False)
    archive_no = pw.TextField()
    fonds_code = pw.TextField()
    category_code = pw.TextField(default="WS")
    year = pw.IntegerField()
    retention = pw.TextField()
    org_code = pw.TextField()
    item_no = pw.IntegerField()
    title = pw.TextField()
    secrecy = pw.SmallIntegerField(default=0)
    department = pw.ForeignKeyField(Department, column_name="department_id", lazy_load=False)
    metadata = BinaryJSONField()
    archived_by = pw.ForeignKeyField(User, null=True, column_name="archived_by_id",
                                     lazy_load=False)
    archived_at = pw.DateTimeField()

    class Meta:
        table_name = "doc_archive"


class ArchiveFile(BaseModel):
    archive = pw.ForeignKeyField(ArchiveItem, column_name="archive_id", lazy_load=False)
    role = pw.TextField()
    name = pw.TextField()
    storage_name = pw.TextField()
    size = pw.BigIntegerField()
    sha256 = pw.TextField()

    class Meta:
        table_name = "doc_archive_file"
