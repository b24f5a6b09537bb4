"""Drive a 发文 through the steps the flow will call (as an office admin would)."""

from __future__ import annotations

from app.core.db import run_in_transaction
from app.documents import service
from tests.documents.conftest import docx_bytes, draft_values
from tests.support.accounts import ctx_for

BODY = ["根据省厅统一部署，决定在全市公安机关开展春季安全检查。现将有关事项通知如下。",
        "一、检查范围",
        "各分局、各支队办公场所、枪支弹药库、档案室及机要室。",
        "（一）重点部位",
        "涉枪、涉密部位由各单位主要负责人带队检查，检查结果于4月30日前书面报市局办公室。"]


def draft(bureau, **changes) -> int:
    ctx = ctx_for(bureau.drafter)
    created = run_in_transaction(service.create_draft, ctx, draft_values(**changes))
    run_in_transaction(service.upload_file, ctx, created["id"], "body", "正文.docx",
                       docx_bytes(BODY))
    return created["id"]


def issue(bureau, doc_id: int, signer=None) -> str:
    """签发 by the leader, then 编号 and 用印 by the office clerk."""
    signer_ctx = ctx_for(signer or bureau.leader)
    run_in_transaction(service.sign, signer_ctx, doc_id, "同意", by_flow=True)
    clerk = ctx_for(bureau.clerk)
    number = run_in_transaction(service.assign_number, clerk, doc_id)
    run_in_transaction(service.seal, clerk, doc_id)
    return number
