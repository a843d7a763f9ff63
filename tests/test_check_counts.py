"""Issue 16: the data checks' counts equal their lists, and both equal an independent reading of the contracts,
after every kind of write (ORM insert, Core insert, edit, void, registration status, delete, an organisation's
change of type, a new threshold), on both databases.

The counts and lists read what triggers keep on the contracts (market/models/checks.py: the parties' organisation
types, the duplicate flag); the oracle here recomputes every check in Python from the plain rows. On PostgreSQL
(READ COMMITTED) two transactions writing at once must leave them right too: twins inserted side by side, a
contract inserted while its party's type changes.
"""
from __future__ import annotations

import os
import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, insert, select, text, update

from market.dashboard import queries, stats
from market.extensions import db
from market.models import Contract, Organization, Region
from market.models.checks import check_drift
from tests import factories

D = Decimal
YEAR = 2025
ON = date(YEAR, 5, 6)


def _oracle(scope: Region | None, period: stats.Period) -> dict[str, set[int]]:
    """Each check's contract ids, computed in Python from the rows as the database holds them now."""
    rows = db.session.execute(select(Contract.__table__)).mappings().all()
    org_types = dict(db.session.execute(select(Organization.id, Organization.org_type)).all())
    allowed = queries.legal_forms_allowed()
    threshold = queries.large_threshold()
    if scope is None:
        region_ids = None
    else:
        region_ids = set(db.session.scalars(select(Region.id).where(Region.path.startswith(scope.path))))
    counted = [r for r in rows if not r["voided"] and r["reg_status"] == "registered"]
    keys: dict[tuple, int] = {}
    for r in counted:
        key = (r["buyer_org_id"], r["seller_org_id"], r["signed_on"], r["amount"])
        keys[key] = keys.get(key, 0) + 1

    def contradicts(form, org_id):
        org_type = org_types[org_id]
        return form is not None and org_type in allowed and form not in allowed[org_type]

    found = {check: set() for check in queries.CHECKS}
    for r in counted:
        if not period.start <= r["signed_on"] <= period.end:
            continue
        if region_ids is not None and r["buyer_region_id"] not in region_ids \
                and r["seller_region_id"] not in region_ids:
            continue
        flags = {
            "tech_over_amount": r["tech_amount"] > r["amount"],
            "large": r["amount"] >= threshold,
            "duplicates": keys[(r["buyer_org_id"], r["seller_org_id"], r["signed_on"], r["amount"])] > 1,
            "no_field": r["field_id"] is None,
            "foreign": r["buyer_country"] != "CN" or r["seller_country"] != "CN",
            "legal_form_mismatch": contradicts(r["seller_legal_form"], r["seller_org_id"])
            or contradicts(r["buyer_legal_form"], r["buyer_org_id"]),
            "tech_no_worksheet": r["tech_amount"] != r["amount"] and r["nontech_equipment"] is None
            and r["nontech_materials"] is None and r["nontech_other"] is None,
        }
        for check, hit in flags.items():
            if hit:
                found[check].add(r["id"])
    return found


def _assert_in_step(world) -> None:
    db.session.flush()
    db.session.expire_all()
    period = stats.Period.year(YEAR)
    scopes = [None, *(db.session.get(Region, world.regions[k].id) for k in ("city", "county_a", "county_b"))]
    for scope in scopes:
        expected = _oracle(scope, period)
        counts = queries.check_counts(scope=scope, period=period)
        for check in queries.CHECKS:
            listed = [c.id for c in db.session.scalars(queries.check_list(check, scope=scope, period=period))]
            assert len(listed) == len(set(listed)), check
            assert set(listed) == expected[check], (check, scope and scope.name)
            assert counts[check] == len(listed), (check, scope and scope.name)
    assert check_drift(db.session.connection()) == 0


def test_counts_equal_lists_through_every_kind_of_write(world, app):
    o = world.orgs
    app.config["DASHBOARD_LARGE_CONTRACT_YUAN"] = "50000000"
    d1 = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("888.00"), signed_on=ON, title="重复甲")
    d2 = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("888.00"), signed_on=ON, title="重复乙")
    other_day = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("888.00"), signed_on=date(YEAR, 5, 7))
    big = factories.contract(buyer=o.ent_b, seller=o.uni, amount=D("60000000.00"), signed_on=ON,
                             tech_amount=D("1000.00"), buyer_legal_form="022")  # an enterprise declared 高等院校
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("888.00"), signed_on=date(YEAR - 1, 5, 6))
    _assert_in_step(world)
    assert queries.check_counts(scope=None, period=stats.Period.year(YEAR))["duplicates"] == 2

    # a third of the group, written past the ORM (as an import's bulk insert or COPY would)
    row = {c.name: getattr(d1, c.name) for c in Contract.__table__.columns
           if c.name not in ("id", "seller_org_type", "buyer_org_type", "duplicated")}
    row.update(registration_no="CORE-0001", reg_verify_code=None)
    db.session.execute(insert(Contract), [row])
    _assert_in_step(world)
    assert queries.check_counts(scope=None, period=stats.Period.year(YEAR))["duplicates"] == 3

    # an edit out of the group and back in, the other day's contract moved into it
    d2.amount = D("889.00")
    _assert_in_step(world)
    d2.amount = D("888.00")
    other_day.signed_on = ON
    _assert_in_step(world)
    assert queries.check_counts(scope=None, period=stats.Period.year(YEAR))["duplicates"] == 4

    # voided, sent back to the 登记点, registered again, deleted
    d1.voided = True
    _assert_in_step(world)
    db.session.execute(update(Contract).where(Contract.id == d2.id).values(reg_status="submitted"))
    _assert_in_step(world)
    db.session.execute(update(Contract).where(Contract.id == d2.id).values(reg_status="registered"))
    d1.voided = False
    _assert_in_step(world)
    db.session.execute(delete(Contract).where(Contract.registration_no == "CORE-0001"))
    _assert_in_step(world)

    # the buyer becomes a university: its declared 022 is right now, the others' defaults wrong
    before = queries.check_counts(scope=None, period=stats.Period.year(YEAR))["legal_form_mismatch"]
    assert before == 1
    ent_b = db.session.get(Organization, o.ent_b.id)
    ent_b.org_type = "university"
    _assert_in_step(world)
    assert big.id not in {c.id for c in db.session.scalars(
        queries.check_list("legal_form_mismatch", scope=None, period=stats.Period.year(YEAR)))}
    # a party changed on the contract: the new party's type is read
    big.buyer_org_id = o.ent_a.id
    _assert_in_step(world)
    assert big.id in {c.id for c in db.session.scalars(
        queries.check_list("legal_form_mismatch", scope=None, period=stats.Period.year(YEAR)))}

    # a new threshold applies at once: nothing is precomputed from it
    app.config["DASHBOARD_LARGE_CONTRACT_YUAN"] = "800"
    _assert_in_step(world)
    assert queries.check_counts(scope=None, period=stats.Period.year(YEAR))["large"] == 4  # the year's four; last year's is outside the period
    db.session.commit()
    _assert_in_step(world)


def test_large_list_is_ordered_by_amount_and_paged(world, app, login_as):
    o = world.orgs
    app.config["DASHBOARD_LARGE_CONTRACT_YUAN"] = "1000"
    made = [factories.contract(buyer=o.ent_a, seller=o.uni, amount=D(1000 + i % 3), signed_on=ON,
                               title=f"大额{i:02d}") for i in range(25)]
    db.session.commit()
    listed = [c.id for c in db.session.scalars(
        queries.check_list("large", scope=None, period=stats.Period.year(YEAR)))]
    assert listed == [c.id for c in sorted(made, key=lambda c: (-c.amount, -c.id))]
    c = login_as("official")
    page = c.get(f"/dashboard/checks?check=large&year={YEAR}").get_data(as_text=True)
    assert "共 25 条" in page and 'id="check-count-large">25<' in page


# --- concurrent writers (PostgreSQL; SQLite's BEGIN IMMEDIATE lets one writing transaction in at a time) --------

ON_POSTGRES = os.environ.get("MARKET_TEST_DB") == "postgres"
concurrent = pytest.mark.skipif(not ON_POSTGRES, reason="SQLite serialises writing transactions (BEGIN IMMEDIATE): "
                                                        "a second writer cannot run while the first is open")


def _in_other_transaction(app, work) -> tuple[threading.Thread, list]:
    """Start `work()` in a thread with its own session (it commits); return once that thread waits on a lock held
    here, or has ended. Without the triggers' locks it runs to its end before this transaction commits."""
    errors: list = []
    backend: list[int] = []
    started = threading.Event()

    def run() -> None:
        with app.app_context():
            try:
                backend.append(db.session.scalar(text("SELECT pg_backend_pid()")))
                started.set()
                work()
                db.session.commit()
            except BaseException as exc:  # re-raised by _finish in the test's thread
                errors.append(exc)
                db.session.rollback()

    thread = threading.Thread(target=run)
    thread.start()
    started.wait(60)
    # pg_locks, not pg_stat_activity: the latter is read once per transaction
    waiting = text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted")
    give_up = time.monotonic() + 60  # a bound against a hang, not a timing assertion
    while thread.is_alive() and backend and not db.session.scalar(waiting, {"pid": backend[0]}) \
            and time.monotonic() < give_up:
        thread.join(0.02)
    return thread, errors


def _finish(thread: threading.Thread, errors: list) -> None:
    thread.join(60)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


@concurrent
@pytest.mark.parametrize("first", ["insert", "move_in"])
def test_twins_written_by_two_transactions_at_once_are_both_flagged(world, app, first):
    """The second writer's regroup waits for the first's commit and then sees its twin (both stay false without)."""
    o = world.orgs
    key = {"amount": D("1234.56"), "signed_on": ON}
    elsewhere = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("99.00"), signed_on=ON)
    db.session.commit()
    ids = {}
    if first == "insert":
        ids["first"] = factories.contract(buyer=o.ent_a, seller=o.uni, **key).id
    else:  # an edit moves a contract into the group
        elsewhere.amount = key["amount"]
        db.session.flush()
        ids["first"] = elsewhere.id
    buyer_id, seller_id = o.ent_a.id, o.uni.id

    def second() -> None:
        ids["second"] = factories.contract(buyer=db.session.get(Organization, buyer_id),
                                           seller=db.session.get(Organization, seller_id), **key).id

    thread, errors = _in_other_transaction(app, second)
    db.session.commit()
    _finish(thread, errors)
    db.session.expire_all()
    assert {k: db.session.get(Contract, v).duplicated for k, v in ids.items()} == {"first": True, "second": True}
    _assert_in_step(world)
    assert queries.check_counts(scope=None, period=stats.Period.year(YEAR))["duplicates"] == 2


@concurrent
@pytest.mark.parametrize("first", ["type_change", "insert"])
def test_contract_inserted_while_its_party_changes_type_gets_the_new_type(world, app, first):
    """Whichever of the two transactions writes first, the contract ends with the type that was committed last."""
    o = world.orgs
    buyer_id, seller_id = o.ent_a.id, o.uni.id
    assert o.uni.org_type == "university"
    ids = {}

    def insert_contract() -> None:
        ids["contract"] = factories.contract(buyer=db.session.get(Organization, buyer_id),
                                             seller=db.session.get(Organization, seller_id), signed_on=ON).id

    def change_type() -> None:
        db.session.get(Organization, seller_id).org_type = "institute"
        db.session.flush()

    here, there = (change_type, insert_contract) if first == "type_change" else (insert_contract, change_type)
    here()
    thread, errors = _in_other_transaction(app, there)
    db.session.commit()
    _finish(thread, errors)
    db.session.expire_all()
    assert db.session.get(Contract, ids["contract"]).seller_org_type == "institute"
    _assert_in_step(world)
