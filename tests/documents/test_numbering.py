"""发文字号, 流水号 and 收文号: format, uniqueness and no gaps, also under concurrency."""

from __future__ import annotations

import datetime as dt
import threading

import psycopg2
import pytest

from app.core.db import connect_params, run_in_transaction
from app.core.errors import Conflict, PermissionDenied, ValidationError
from app.documents import numbering, service
from app.documents.models import NumberRule, OutgoingDocument
from tests.documents.conftest import draft_values
from tests.documents.helpers import draft, issue
from tests.support.accounts import ctx_for

YEAR = dt.date.today().year


def _signed(bureau, count: int, **changes) -> list[int]:
    ids = []
    for _ in range(count):
        created = run_in_transaction(service.create_draft, ctx_for(bureau.drafter),
                                     draft_values(**changes))
        run_in_transaction(service.sign, ctx_for(bureau.leader), created["id"], by_flow=True)
        ids.append(created["id"])
    return ids


def test_number_uses_the_nearest_doc_code_and_the_year(bureau):
    doc_id = draft(bureau)
    number = issue(bureau, doc_id)
    # 办公室 has no 代字 of its own: the bureau's X公 numbers it
    assert number == f"X公发〔{YEAR}〕1号"
    second = issue(bureau, draft(bureau))
    assert second == f"X公发〔{YEAR}〕2号"


def test_a_document_is_numbered_once_and_only_after_signing(bureau):
    created = run_in_transaction(service.create_draft, ctx_for(bureau.drafter), draft_values())
    clerk = ctx_for(bureau.clerk)
    with pytest.raises(Conflict, match="尚未签发"):
        run_in_transaction(service.assign_number, clerk, created["id"])
    run_in_transaction(service.sign, ctx_for(bureau.leader), created["id"], by_flow=True)
    run_in_transaction(service.assign_number, clerk, created["id"])
    with pytest.raises(Conflict, match="已编号"):
        run_in_transaction(service.assign_number, clerk, created["id"])


def test_pattern_is_configurable_per_department_and_checked(bureau):
    with pytest.raises(PermissionDenied):
        run_in_transaction(service.set_number_pattern, ctx_for(bureau.drafter),
                           bureau.bureau.id, "{代字}办发〔{year}〕{n}号")
    run_in_transaction(service.set_number_pattern, ctx_for(bureau.clerk), bureau.bureau.id,
                       "{代字}办发〔{year}〕{n}号")
    assert run_in_transaction(lambda: NumberRule.get_by_id(bureau.bureau.id).pattern
                              ) == "{代字}办发〔{year}〕{n}号"
    assert issue(bureau, draft(bureau)) == f"X公办发〔{YEAR}〕1号"
    for bad, message in (("{代字}发[{year}]{n}号", "六角括号"),
                         ("{代字}发〔{year}〕第{n}号", "不加“第”"),
                         ("{代字}发〔{year}〕", "{n}"),
                         ("{机关}发〔{year}〕{n}号", "未知的占位符")):
        with pytest.raises(ValidationError) as caught:
            numbering.check_pattern(bad)
        assert message in caught.value.fields["pattern"]


def test_no_doc_code_anywhere_is_a_clear_error(bureau):
    def remove_codes() -> None:
        from app.org.models import Department
        Department.update(doc_code="").execute()
    run_in_transaction(remove_codes)
    [doc_id] = _signed(bureau, 1)
    with pytest.raises(ValidationError) as caught:
        run_in_transaction(service.assign_number, ctx_for(bureau.clerk), doc_id)
    assert "机关代字" in caught.value.fields["drafting_department_id"]


THREADS = 6  # the test pool holds 12 connections, 4 kept by the database threads


def test_concurrent_numbering_is_unique_and_without_gaps(bureau):
    ids = _signed(bureau, 18)
    clerk = ctx_for(bureau.clerk)
    barrier = threading.Barrier(THREADS)
    results: list[str] = []
    errors: list[BaseException] = []

    def number(batch: list[int]) -> None:
        for index, doc_id in enumerate(batch):
            def work(doc_id: int = doc_id, first: bool = index == 0) -> str:
                if first:
                    barrier.wait(10)  # all in a transaction before anyone numbers
                return service.assign_number(clerk, doc_id)
            try:
                results.append(run_in_transaction(work))
            except BaseException as exc:  # reported below
                errors.append(exc)

    threads = [threading.Thread(target=number, args=(ids[i::THREADS],))
               for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(results) == sorted(f"X公发〔{YEAR}〕{n}号" for n in range(1, 19))
    stored = run_in_transaction(lambda: sorted(
        d.number_seq for d in OutgoingDocument.select().where(OutgoingDocument.id.in_(ids))))
    assert stored == list(range(1, 19))


def test_a_rolled_back_numbering_leaves_no_gap(bureau, pg):
    first, second = _signed(bureau, 2)
    clerk = ctx_for(bureau.clerk)

    class Abort(Exception):
        pass

    def number_then_fail() -> None:
        service.assign_number(clerk, first)
        raise Abort()

    with pytest.raises(Abort):
        run_in_transaction(number_then_fail)
    assert run_in_transaction(service.assign_number, clerk, second) == f"X公发〔{YEAR}〕1号"
    assert run_in_transaction(service.assign_number, clerk, first) == f"X公发〔{YEAR}〕2号"


def test_a_waiting_numberer_gets_the_number_of_a_transaction_that_rolled_back(bureau, pg):
    """Transaction A holds the counter row; B waits; A rolls back; B gets number 1."""
    _, second = _signed(bureau, 2)
    holder = psycopg2.connect(**connect_params(pg.runtime_url))
    try:
        with holder.cursor() as cur:
            cur.execute(numbering._TAKE, ("outgoing", "X公", YEAR))
            assert cur.fetchone()[0] == 1
        result: list[str] = []
        waiter = threading.Thread(target=lambda: result.append(run_in_transaction(
            service.assign_number, ctx_for(bureau.clerk), second)))
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive(), "the second numberer must wait for the row lock"
        holder.rollback()
        waiter.join(10)
        assert result == [f"X公发〔{YEAR}〕1号"]
    finally:
        holder.close()


def test_serial_numbers_per_department_and_year(bureau):
    ctx = ctx_for(bureau.drafter)
    serials = [run_in_transaction(service.create_draft, ctx, draft_values())["serial_no"]
               for _ in range(3)]
    assert serials == [f"办公室{YEAR}{n:04d}号" for n in (1, 2, 3)]


def test_concurrent_incoming_registration_numbers_without_gaps(bureau):
    clerk = ctx_for(bureau.clerk)
    results: list[str] = []
    barrier = threading.Barrier(THREADS)

    def register(i: int) -> None:
        def work() -> str:
            barrier.wait(10)
            return service.register_incoming(clerk, {
                "source_unit": "省公安厅", "source_number": f"冀公发〔{YEAR}〕{i + 1}号",
                "title": f"来文{i}", "received_on": dt.date.today().isoformat()})["receipt_no"]
        results.append(run_in_transaction(work))

    threads = [threading.Thread(target=register, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == sorted(f"X公收〔{YEAR}〕{n}号" for n in range(1, THREADS + 1))
