"""What the dashboard's data checks (数据核查) read at a million contracts, kept by the database (issue 16).

Each check lists the counted contracts of a period in a scope that meet its condition; the page shows every
check's count and one page of one list. Scanning the period's contracts for that took seconds (13 s on SQLite at
1,000,000 contracts); instead every check now reads one index range:

* the conditions on the contract row alone (no field, 涉外, 技术交易额 without its worksheet, 技术交易额 above the
  成交额) each have a partial index holding only the contracts that meet them, in the order of their list;
* 大额 reads the index on the amount from the threshold up; the threshold (DASHBOARD_LARGE_CONTRACT_YUAN) is applied
  when reading, so changing it needs nothing recomputed;
* 法人性质与单位类型不符 compares the declared codes with the parties' organisation types, which triggers keep on
  the contract (`seller_org_type`, `buyer_org_type`; an organisation's change of type is carried to its contracts);
  the codes each type may declare come from the admin-edited reg_codes when reading, so editing them needs
  nothing recomputed either;
* duplicates: `duplicated` says that the contract counts and another counted contract has the same buyer, seller,
  signing date and amount. Triggers keep it on every contract of the group whenever one of them is inserted,
  edited, voided, registered or deleted, whichever code path writes.

Concurrent writers on PostgreSQL (READ COMMITTED) keep them right too: a regroup first takes an advisory lock on
each group it touches, so a twin written by another open transaction is waited for and then seen; a contract
naming a party reads the party FOR SHARE, so a concurrent change of its type is waited for (or waits) and carried
over. SQLite lets one writing transaction in at a time (BEGIN IMMEDIATE) and needs neither.

`install_check_triggers(connection)` creates the triggers and `fill_check_columns(connection)` computes the three
columns from the data (a migration calls both); `flask --app app stats check` reports drift.
"""
from __future__ import annotations

from sqlalchemy import DDL, Integer, and_, bindparam, event, literal_column, or_, text, true
from sqlalchemy.dialects.postgresql import ARRAY

from ..extensions import db
from .contract import Contract

KEY = ("buyer_org_id", "seller_org_id", "signed_on", "amount")  # what makes two contracts suspected duplicates
# columns whose change can change a contract's `duplicated` or its group's
_DUP_INPUTS = KEY + ("voided", "reg_status")

# --- the conditions, shared by the partial indexes and the reads (SQLite uses a partial index only when the
# query repeats its WHERE term, constants included, so they are written with literal constants) ---------------


def no_field():
    return Contract.field_id.is_(None)


def foreign():
    cn = literal_column("'CN'")
    return or_(Contract.buyer_country != cn, Contract.seller_country != cn)


def tech_over_amount():  # impossible by a CHECK constraint; counted so that the page can say so
    return Contract.tech_amount > Contract.amount


def tech_no_worksheet():  # a 技术交易额 typed rather than worked out from the 成交额
    return and_(Contract.tech_amount != Contract.amount, Contract.nontech_equipment.is_(None),
                Contract.nontech_materials.is_(None), Contract.nontech_other.is_(None))


def has_legal_form():
    return or_(Contract.seller_legal_form.is_not(None), Contract.buyer_legal_form.is_not(None))


def duplicated():
    return Contract.duplicated == true()


# Every check's index leads with the counted rule's two columns (equal in every read, so the list's order
# follows), then the list's order, then the scope's columns. Leading with both keeps SQLite's planner on it rather
# than on ix_contracts_checks (voided, signed_on, ...), which it otherwise prefers for the period's range.
_COUNTED = (Contract.voided, Contract.reg_status)
_SCOPE = (Contract.buyer_region_id, Contract.seller_region_id)


def _partial(name: str, condition, order: tuple, condition_columns: tuple) -> None:
    # the condition's own columns come last: SQLite (3.40) reads the table to test a partial index's WHERE again
    # unless the index holds them
    db.Index(name, *_COUNTED, *order, *_SCOPE, *condition_columns, sqlite_where=condition,
             postgresql_where=condition)


_BY_DATE = (Contract.signed_on, Contract.id)
_partial("ix_contracts_chk_no_field", no_field(), _BY_DATE, (Contract.field_id,))
_partial("ix_contracts_chk_foreign", foreign(), _BY_DATE, (Contract.buyer_country, Contract.seller_country))
_partial("ix_contracts_chk_over", tech_over_amount(), _BY_DATE, (Contract.amount, Contract.tech_amount))
_partial("ix_contracts_chk_worksheet", tech_no_worksheet(), _BY_DATE,
         (Contract.amount, Contract.tech_amount, Contract.nontech_equipment, Contract.nontech_materials,
          Contract.nontech_other))
_partial("ix_contracts_chk_duplicates", duplicated(),
         (Contract.signed_on, Contract.buyer_org_id, Contract.seller_org_id, Contract.amount, Contract.id),
         (Contract.duplicated,))
_partial("ix_contracts_chk_legal_form", has_legal_form(), _BY_DATE,
         (Contract.seller_org_type, Contract.seller_legal_form, Contract.buyer_org_type, Contract.buyer_legal_form))
db.Index("ix_contracts_chk_large", *_COUNTED, Contract.amount, Contract.id, Contract.signed_on, *_SCOPE)

# --- triggers -------------------------------------------------------------------------------------------------


def _dup_sql(row: str) -> str:
    """Whether the contract `row` is a suspected duplicate (a boolean on PostgreSQL, 0/1 on SQLite)."""
    same = " AND ".join(f"d.{c} = {row}.{c}" for c in KEY)
    # `d.voided = FALSE`, an equality, not `NOT d.voided`: with it SQLite finds the twin through ix_contracts_checks
    # (voided, signed_on, buyer, seller, amount), where `NOT` left it on ix_contracts_seller_org_id and scanned the
    # seller's every contract: each import row and `stats check` were quadratic (20,000 imported rows: 62 s -> 0.05 s)
    # bandit B608: trigger DDL from module constants, no user input
    return (f"(NOT {row}.voided AND {row}.reg_status = 'registered' AND EXISTS (SELECT 1 FROM contracts d"  # nosec B608
            f" WHERE {same} AND d.id <> {row}.id AND d.voided = FALSE AND d.reg_status = 'registered'))")


def _org_type_sql(org_id: str) -> str:
    return f"(SELECT o.org_type FROM organizations o WHERE o.id = {org_id})"  # nosec B608 - module constants


def _sqlite_regroup(ref: str) -> str:
    """Recompute `duplicated` of every contract sharing the key of `ref` (NEW or OLD)."""
    same = " AND ".join(f"{c} = {ref}.{c}" for c in KEY)
    dup = _dup_sql("contracts")
    return f"UPDATE contracts SET duplicated = {dup} WHERE {same} AND duplicated IS NOT {dup};"  # nosec B608


def _sqlite_ddl() -> list[str]:
    types = (f"UPDATE contracts SET seller_org_type = {_org_type_sql('NEW.seller_org_id')},"  # nosec B608 - module constants
             f" buyer_org_type = {_org_type_sql('NEW.buyer_org_id')} WHERE id = NEW.id;")
    return [
        # the UPDATEs below name none of the columns the update trigger watches, so they do not fire it again
        f"CREATE TRIGGER IF NOT EXISTS trg_contract_checks_insert AFTER INSERT ON contracts BEGIN\n"
        f"{types}\n{_sqlite_regroup('NEW')}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS trg_contract_checks_update AFTER UPDATE OF {', '.join(_DUP_INPUTS)}"
        f" ON contracts BEGIN\n{types}\n{_sqlite_regroup('OLD')}\n{_sqlite_regroup('NEW')}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS trg_contract_checks_delete AFTER DELETE ON contracts BEGIN\n"
        f"{_sqlite_regroup('OLD')}\nEND",
        "CREATE TRIGGER IF NOT EXISTS trg_org_type_to_contracts AFTER UPDATE OF org_type ON organizations"
        " WHEN OLD.org_type IS NOT NEW.org_type BEGIN\n"
        "UPDATE contracts SET seller_org_type = NEW.org_type WHERE seller_org_id = NEW.id;\n"
        "UPDATE contracts SET buyer_org_type = NEW.org_type WHERE buyer_org_id = NEW.id;\nEND",
    ]


def _postgres_regroup(keys: str) -> str:
    """Recompute `duplicated` of every contract sharing a key listed by the query `keys` (set-based: a COPY of a
    million contracts is one statement)."""
    on = " AND ".join(f"c2.{c} = k.{c}" for c in KEY)
    return (  # nosec B608 - built from module constants, no user input
        f"UPDATE contracts c SET duplicated = x.dup FROM ("  # nosec B608 - module constants
        f"SELECT c2.id, {_dup_sql('c2')} AS dup FROM contracts c2 JOIN ({keys}) k ON {on}"
        f") x WHERE c.id = x.id AND c.duplicated IS DISTINCT FROM x.dup"
    )


# PostgreSQL runs READ COMMITTED: two transactions writing twins at once would each regroup without seeing the
# other's uncommitted row, and both leave `duplicated` false. So a regroup first takes a transaction-level
# advisory lock on each group it touches: pg_advisory_xact_lock(16016, bucket), the bucket a hash of the key (twins
# share one; two-integer keys, apart from the throttle's one-bigint ones), in ascending order within the statement;
# the second writer waits for the first's commit. A statement touching more than 16 buckets (an import's batch)
# takes all 256, in order, at once: its later batches then need no new lock, so two imports cannot deadlock across
# batches, and a transaction holds at most 256 of these locks (a million-row COPY does not fill the lock table).
_LOCK_BUCKETS = 256  # the function below writes it as 256 and 255
_LOCK_FUNCTION = """
CREATE OR REPLACE FUNCTION contract_checks_lock(buckets integer[]) RETURNS void AS $$
DECLARE
  b integer;
BEGIN
  IF cardinality(buckets) > 16 THEN
    buckets := ARRAY(SELECT generate_series(0, 255));
  END IF;
  FOR b IN SELECT DISTINCT u FROM unnest(buckets) u ORDER BY u LOOP
    PERFORM pg_advisory_xact_lock(16016, b);
  END LOOP;
END;
$$ LANGUAGE plpgsql"""


def _lock_buckets_sql(keys: str) -> str:
    """The advisory-lock buckets of the groups listed by the query `keys` (an integer[] expression)."""
    parts = ", ".join(f"k.{c}" for c in KEY)
    return f"ARRAY(SELECT DISTINCT hashtext(concat_ws('|', {parts})) & {_LOCK_BUCKETS - 1} FROM ({keys}) k)"  # nosec B608


def lock_duplicate_groups(contract_ids, joining=()) -> None:
    """PostgreSQL: take the advisory locks of these contracts' duplicate groups (their keys as committed), and of the
    groups `joining` names (the KEY values an edit is about to give a contract), before a write locks their rows.
    The trigger takes them only after the statement has locked its rows: two transactions changing twins at once
    (two officials voiding them) then each held one twin's row and waited for the other's group lock, whose holder
    was regrouping that very row; and two edits moving twins into each other's group each held the group it left
    and waited for the one it joined -- deadlocks (both seen in the suite). Taken first, all in one ascending
    order, the second writer waits for the first's commit before it locks any row or group. Locks are re-entrant:
    the trigger's own request for them later in the transaction is granted at once. No-op on SQLite (one writer at
    a time)."""
    ids = [int(i) for i in contract_ids if i is not None]
    joining = [tuple(key) for key in joining if key is not None]
    dialect = db.session.get_bind().dialect
    if not (ids or joining) or dialect.name != "postgresql":
        return
    columns = Contract.__table__.c
    selects = [f"SELECT {', '.join(KEY)} FROM contracts WHERE id = ANY(:ids)"]  # nosec B608 - module constants
    binds = [bindparam("ids", ids, type_=ARRAY(Integer))]
    for n, key in enumerate(joining):
        # typed as the columns, so that the key's text (and its bucket) is the one the trigger computes
        selects.append("SELECT " + ", ".join(  # nosec B608 - module constants and bound parameters
            f"CAST(:j{n}_{i} AS {columns[c].type.compile(dialect=dialect)}) AS {c}"
            for i, c in enumerate(KEY)))
        binds += [bindparam(f"j{n}_{i}", value, type_=columns[c].type) for i, (c, value) in enumerate(zip(KEY, key))]
    keys = " UNION ".join(selects)
    db.session.execute(text(f"SELECT contract_checks_lock({_lock_buckets_sql(keys)})").bindparams(*binds))  # nosec B608


def key_after(contract: Contract, values) -> tuple | None:
    """The contract's duplicate key once `values` (a mapping of some columns) are written, or None when they leave
    it unchanged: the group an edit makes the contract join."""
    key = tuple(values[c] if c in values else getattr(contract, c) for c in KEY)
    return None if key == tuple(getattr(contract, c) for c in KEY) else key


def _postgres_ddl() -> list[str]:
    cols = ", ".join(KEY)
    changed = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in _DUP_INPUTS)
    keys = {  # nosec B608 - built from module constants, no user input
        "insert": f"SELECT DISTINCT {cols} FROM new_rows",  # nosec B608 - module constants
        "delete": f"SELECT DISTINCT {cols} FROM old_rows",  # nosec B608 - module constants
        "update": (f"SELECT {', '.join('o.' + c for c in KEY)} FROM old_rows o JOIN new_rows n ON n.id = o.id"  # nosec B608 - module constants
                   f" WHERE {changed} UNION SELECT {', '.join('n.' + c for c in KEY)} FROM old_rows o"
                   f" JOIN new_rows n ON n.id = o.id WHERE {changed}"),
    }
    refs = {"insert": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows",
            "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}
    out = [
        # A party newly named on the contract is read FOR SHARE, which waits for a concurrent change of its type
        # (the change holds the row until it commits) and then reads the committed type; a change that comes
        # second waits for this contract's commit and then carries its type over to it (org_type_to_contracts).
        # A party the update leaves alone is not locked: a concurrent change of its type rewrites this contract
        # after this commit, and locking it here could deadlock with that rewrite (which waits for this row).
        f"""
CREATE OR REPLACE FUNCTION contract_checks_org_types() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM 1 FROM organizations o WHERE o.id IN (NEW.seller_org_id, NEW.buyer_org_id) ORDER BY o.id FOR SHARE;
  ELSE
    PERFORM 1 FROM organizations o
      WHERE (o.id = NEW.seller_org_id AND NEW.seller_org_id IS DISTINCT FROM OLD.seller_org_id)
         OR (o.id = NEW.buyer_org_id AND NEW.buyer_org_id IS DISTINCT FROM OLD.buyer_org_id)
      ORDER BY o.id FOR SHARE;
  END IF;
  NEW.seller_org_type := {_org_type_sql('NEW.seller_org_id')};
  NEW.buyer_org_type := {_org_type_sql('NEW.buyer_org_id')};
  RETURN NEW;
END;
$$ LANGUAGE plpgsql""",
        "DROP TRIGGER IF EXISTS trg_contract_checks_org_types ON contracts",
        "CREATE TRIGGER trg_contract_checks_org_types BEFORE INSERT OR UPDATE OF seller_org_id, buyer_org_id"
        " ON contracts FOR EACH ROW EXECUTE FUNCTION contract_checks_org_types()",
        """
CREATE OR REPLACE FUNCTION org_type_to_contracts() RETURNS trigger AS $$
BEGIN
  UPDATE contracts SET seller_org_type = NEW.org_type WHERE seller_org_id = NEW.id;
  UPDATE contracts SET buyer_org_type = NEW.org_type WHERE buyer_org_id = NEW.id;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql""",
        "DROP TRIGGER IF EXISTS trg_org_type_to_contracts ON organizations",
        "CREATE TRIGGER trg_org_type_to_contracts AFTER UPDATE OF org_type ON organizations FOR EACH ROW"
        " WHEN (OLD.org_type IS DISTINCT FROM NEW.org_type) EXECUTE FUNCTION org_type_to_contracts()",
    ]
    out.append(_LOCK_FUNCTION)
    for op, key_sql in keys.items():
        # the regroup's own UPDATE fires the update trigger again, with no key columns changed: the guard ends it.
        # The groups' locks are taken first (see _lock_buckets_sql); the regroup, a later statement, then reads
        # with a fresh snapshot (READ COMMITTED), so it sees the rows of a twin's transaction it waited for.
        out += [
            f"""
CREATE OR REPLACE FUNCTION contract_checks_{op}() RETURNS trigger AS $$
BEGIN
  IF EXISTS ({key_sql}) THEN
    PERFORM contract_checks_lock({_lock_buckets_sql(key_sql)});
    {_postgres_regroup(key_sql)};
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql""",
            f"DROP TRIGGER IF EXISTS trg_contract_checks_{op} ON contracts",
            f"CREATE TRIGGER trg_contract_checks_{op} AFTER {op.upper()} ON contracts REFERENCING {refs[op]}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION contract_checks_{op}()",
        ]
    return out


def check_trigger_ddl(dialect_name: str) -> list[str]:
    if dialect_name == "sqlite":
        return _sqlite_ddl()
    if dialect_name == "postgresql":
        return _postgres_ddl()
    raise NotImplementedError(f"contract check triggers for {dialect_name}")


def drop_check_trigger_ddl(dialect_name: str) -> list[str]:
    ops = ("insert", "update", "delete")
    if dialect_name == "sqlite":
        return [*(f"DROP TRIGGER IF EXISTS trg_contract_checks_{op}" for op in ops),
                "DROP TRIGGER IF EXISTS trg_org_type_to_contracts"]
    out = []
    for op in (*ops, "org_types"):
        out += [f"DROP TRIGGER IF EXISTS trg_contract_checks_{op} ON contracts",
                f"DROP FUNCTION IF EXISTS contract_checks_{op}()"]
    return out + ["DROP FUNCTION IF EXISTS contract_checks_lock(integer[])",
                  "DROP TRIGGER IF EXISTS trg_org_type_to_contracts ON organizations",
                  "DROP FUNCTION IF EXISTS org_type_to_contracts()"]


def install_check_triggers(connection) -> None:
    for ddl in check_trigger_ddl(connection.dialect.name):
        connection.execute(DDL(ddl.replace("%", "%%")))


def drop_check_triggers(connection) -> None:
    for ddl in drop_check_trigger_ddl(connection.dialect.name):
        connection.execute(DDL(ddl))


def fill_check_columns(connection) -> None:
    """Compute seller_org_type, buyer_org_type and duplicated of every contract from the data (set-based)."""
    connection.exec_driver_sql(
        f"UPDATE contracts SET seller_org_type = {_org_type_sql('contracts.seller_org_id')},"  # nosec B608 - module constants
        f" buyer_org_type = {_org_type_sql('contracts.buyer_org_id')}"
    )
    if connection.dialect.name == "postgresql":
        cols = ", ".join(KEY)
        connection.exec_driver_sql(_postgres_regroup(
            f"SELECT {cols} FROM contracts WHERE NOT voided AND reg_status = 'registered'"  # nosec B608
            f" GROUP BY {cols} HAVING count(*) > 1 UNION SELECT {cols} FROM contracts WHERE duplicated"))
    else:
        dup = _dup_sql("contracts")
        connection.exec_driver_sql(f"UPDATE contracts SET duplicated = {dup} WHERE duplicated IS NOT {dup}")  # nosec B608 - module constants


def check_drift(connection) -> int:
    """How many contracts' org types or duplicate flag differ from what the data says (0 when in step)."""
    dup = _dup_sql("contracts")
    wrong = (f"SELECT count(*) FROM contracts WHERE seller_org_type IS DISTINCT FROM {_org_type_sql('contracts.seller_org_id')}"  # nosec B608
             f" OR buyer_org_type IS DISTINCT FROM {_org_type_sql('contracts.buyer_org_id')}"
             f" OR duplicated IS DISTINCT FROM {dup}")
    if connection.dialect.name == "sqlite":
        wrong = wrong.replace("IS DISTINCT FROM", "IS NOT")
    return int(connection.exec_driver_sql(wrong).scalar())


@event.listens_for(Contract.__table__, "after_create")
def _install(target, connection, **kw) -> None:
    # organizations exists by then: contracts refer to it
    install_check_triggers(connection)


@event.listens_for(Contract.__table__, "before_drop")
def _drop(target, connection, **kw) -> None:
    drop_check_triggers(connection)


__all__ = ["check_drift", "drop_check_triggers", "fill_check_columns", "install_check_triggers"]
