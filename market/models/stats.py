"""Monthly contract totals per region for the officials' dashboard, kept by database triggers.

Every insert, edit, void (and delete) of a contract updates `contract_month_stats` inside the same
statement, hence the same transaction, whichever code path writes: the ORM, a Core bulk insert, COPY,
or plain SQL. Each row holds count, 成交额 and 技术交易额 of the live (not voided) contracts of one month
for one region *and everything below it*, keyed by

    dim     'all' (key ''), 'type' (key = contract_type), 'field' (key = the root field id, '' when none) or
            'origin' (key = where the *other* party is: 'L' on the city's region tree, its 国别 when abroad,
            else the first 4 digits of its 行政区划代码, e.g. '3401' 合肥市; market/divisions.py reads these
            as 本市 / 省内其他市 / 外省 / 境外 relative to the market's territory)
    side    'b' the buyer is in the region (吸纳), 's' the seller is (输出),
            'i' both are ('all' only): such a contract counts on both sides
    ym      year * 100 + month of signed_on
    region_id

so that any region's figures are read from its own rows (no scan of the regions below): 吸纳 = b,
输出 = s, contracts with either party in the region = b + s - i. A party outside the city has no region: a contract adds to the rows of its
buyer's region (if any) and that region's ancestors, of its seller's region and ancestors, and (side 'i') of every
region that holds both parties.

Each sum is kept in two parts (market.money): `amount_hi`, the whole multiples of 10^7 元 of each contract,
and `amount`, the rest (below 10^7 元 each); the figure is amount_hi * 10^7 元 + amount. Neither part can
overflow SQLite's int64 (a single fen column did, silently turning REAL, past 9.2×10^16 元 in one row).

The rows depend on the region and field trees: a session that changes either tree has the table recomputed
before it commits (market/outbox.py); `flask --app app stats check` reports any drift and `stats rebuild` recomputes it
(after editing the trees with raw SQL, say). A migration creates the triggers with
`install_triggers(op.get_bind())` and fills the table from existing contracts with
`rebuild_contract_stats(op.get_bind())`.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import DDL, BigInteger, Integer, String, and_, case, cast, event, func, inspect, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, aliased, mapped_column
from sqlalchemy.sql.expression import FunctionElement

from ..extensions import db
from ..money import Money, exact_sum, high_part_sql, low_part_sql
from .contract import Contract
from .field import Field
from .region import Region

STATS_TABLE = "contract_month_stats"
DEPTH = 3  # city -> county -> town
# The 登记表 dimensions (revision a18e01c0ffee), for the report tables T2-T7 (market/dashboard/reports.py):
# dim -> the key as SQL over a contract row (both dialects; '{row}' is NEW, OLD, d or contracts)
REG_DIM_SQL = {
    "sub": "{row}.contract_type || '.' || COALESCE({row}.subtype, '')",  # T2: type.subtype
    "rfield": "COALESCE({row}.reg_field, '')",  # T3: the registration's 11 技术领域
    "lfs": "COALESCE({row}.seller_legal_form, '')",  # T4: 法人性质 of the seller
    "lfb": "COALESCE({row}.buyer_legal_form, '')",  # T4: 法人性质 of the buyer
    "ip": "COALESCE({row}.ip_type, '')",  # T5
    "plan": "COALESCE({row}.plan_source, '')",  # T6
    "goal": "COALESCE({row}.socio_goal, '')",  # T7
}
REG_DIM_COLUMNS = ("subtype", "reg_field", "seller_legal_form", "buyer_legal_form", "ip_type", "plan_source",
                   "socio_goal")
KEY_LENGTH = 48  # 'sub' keys: contract_type (16) + '.' + subtype (32); 16 before revision a18e01c0ffee
DIM_SIDES = {"all": ("b", "s", "i"), "type": ("b", "s"), "field": ("b", "s"), "origin": ("b", "s"),
             **{dim: ("b", "s") for dim in REG_DIM_SQL}}
# the layout before revision a16a01c0ffee had no 'origin' rows (and contracts no place columns)
_DIMS_BEFORE_FLOWS = ("all", "type", "field")
_DIMS_BEFORE_REG = ("all", "type", "field", "origin")


class ContractMonthStat(db.Model):
    __tablename__ = STATS_TABLE
    __table_args__ = {"sqlite_with_rowid": False}

    dim: Mapped[str] = mapped_column(String(8), primary_key=True)
    region_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    side: Mapped[str] = mapped_column(String(1), primary_key=True)
    ym: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    # each sum in two parts (see the module's docstring): amount_hi * 10^7 元 + amount; no Python-side default,
    # which an INSERT ... SELECT of the layout before the split would name
    amount_hi: Mapped[int] = mapped_column(BigInteger, server_default="0")
    amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    tech_amount_hi: Mapped[int] = mapped_column(BigInteger, server_default="0")
    tech_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))


# The one rule for what counts in the official figures (issue 16 item 4): a contract not voided AND registered
# (reg_status 'registered'; submissions waiting for the 登记点, returned or refused ones never count). The triggers
# below, the rebuild, and the dashboard's reads of the contracts table (market.dashboard.stats.live_contracts) all
# say it through these two.
COUNTED_SQL = "NOT {row}.voided AND {row}.reg_status = 'registered'"


def counted():
    """COUNTED_SQL as a SQLAlchemy condition on Contract."""
    return and_(Contract.voided == False, Contract.reg_status == "registered")  # noqa: E712


def _counted_sql(row: str, registered: bool) -> str:
    # registered=False: the layout before revision a18b01c0ffee (no reg_status column)
    return COUNTED_SQL.format(row=row) if registered else f"NOT {row}.voided"


def _has_reg_status(connection) -> bool:
    return any(c["name"] == "reg_status" for c in inspect(connection).get_columns("contracts"))


def _has_reg_dims(connection) -> bool:
    """Whether the summary has the 登记表 dimensions' layout (revision a18e01c0ffee widened its key)."""
    for column in inspect(connection).get_columns(STATS_TABLE):
        if column["name"] == "key":
            return (getattr(column["type"], "length", None) or 0) >= KEY_LENGTH
    return False


# Indexes for the dashboard's reads of the contracts table itself (the partial months at the edges of a
# custom range, conversions, the funnel, 产学研 coverage, data checks). Every such read filters
# `voided = false AND signed_on BETWEEN ...`: leading with `voided` makes that one range scan (and keeps
# SQLite's planner off the one-column index on `voided`, which matches nearly every row).
db.Index(
    "ix_contracts_dashboard",
    Contract.voided,
    Contract.signed_on,
    Contract.buyer_region_id,
    Contract.seller_region_id,
    Contract.contract_type,
    Contract.field_id,
    Contract.amount,
    Contract.tech_amount,
    Contract.buyer_org_id,
    Contract.seller_org_id,
    Contract.achievement_id,
    Contract.deal_id,
    Contract.reg_status,
)
# 科技成果转化 and the funnel's last step: the few contracts that name a result, or come from a deal. These and the
# two below end with reg_status (revision a19301c0ffee), as the two above do since a18b01c0ffee: every read tests
# the counted rule, and without it in the index each row of the range was read from the table as well (conversions,
# targets and 产学研 coverage took 0.5-0.8 s at 1,000,000 contracts instead of a covering index range).
db.Index(
    "ix_contracts_conversions",
    Contract.voided,
    Contract.signed_on,
    Contract.achievement_id,
    Contract.buyer_region_id,
    Contract.seller_region_id,
    Contract.reg_status,
    sqlite_where=Contract.achievement_id.is_not(None),
    postgresql_where=Contract.achievement_id.is_not(None),
)
db.Index(
    "ix_contracts_from_deals",
    Contract.voided,
    Contract.signed_on,
    Contract.buyer_region_id,
    Contract.seller_region_id,
    Contract.reg_status,
    sqlite_where=Contract.deal_id.is_not(None),
    postgresql_where=Contract.deal_id.is_not(None),
)
# 产学研 coverage: the contracts of each university or institute in a period, and their other party.
db.Index("ix_contracts_seller_org_signed", Contract.seller_org_id, Contract.voided, Contract.signed_on,
         Contract.buyer_org_id, Contract.reg_status)
db.Index("ix_contracts_buyer_org_signed", Contract.buyer_org_id, Contract.voided, Contract.signed_on,
         Contract.seller_org_id, Contract.reg_status)
# Data check "duplicate contracts": the live contracts of a period grouped by (date, buyer, seller, amount)
# stream out of this index's range in group order, with no sort; it covers the row-wise checks too.
db.Index(
    "ix_contracts_checks",
    Contract.voided,
    Contract.signed_on,
    Contract.buyer_org_id,
    Contract.seller_org_id,
    Contract.amount,
    Contract.buyer_region_id,
    Contract.seller_region_id,
    Contract.tech_amount,
    Contract.field_id,
    Contract.reg_status,
)
# Data check "unusually large contracts" reads the few largest amounts first.
db.Index("ix_contracts_amount", Contract.amount)

# Emptying tables in reverse dependency order (tests) must delete contracts before this table,
# so that the delete triggers run against rows that are then removed too.
Contract.__table__.add_is_dependent_on(ContractMonthStat.__table__)

_RELEVANT_BEFORE_FLOWS = ("voided", "amount", "tech_amount", "signed_on", "buyer_region_id", "seller_region_id",
                          "contract_type", "field_id")
_PLACE_COLUMNS = ("buyer_division", "seller_division", "buyer_country", "seller_country")


def _relevant(flows: bool, registered: bool = True, regdims: bool = False) -> tuple[str, ...]:
    return (_RELEVANT_BEFORE_FLOWS + (_PLACE_COLUMNS if flows else ()) + (("reg_status",) if registered else ())
            + (REG_DIM_COLUMNS if regdims else ()))


def _dims(flows: bool, regdims: bool = False) -> tuple[str, ...]:
    if regdims:
        return tuple(DIM_SIDES)
    return _DIMS_BEFORE_REG if flows else _DIMS_BEFORE_FLOWS


def origin_key_sql(row: str, party: str) -> str:
    """SQL for the 'origin' key of one party ('buyer' or 'seller') of the contract `row` (both dialects)."""
    return (f"(CASE WHEN {row}.{party}_region_id IS NOT NULL THEN 'L'"
            f" WHEN {row}.{party}_country <> 'CN' THEN {row}.{party}_country"
            f" ELSE COALESCE(SUBSTR({row}.{party}_division, 1, 4), '') END)")
# the summary's money columns; split=False is the layout before revision a12b04c0ffee (one column per sum),
# which the migrations up to it create and fill
MONEY_COLUMNS = ("amount_hi", "amount", "tech_amount_hi", "tech_amount")
_UNSPLIT_COLUMNS = ("amount", "tech_amount")


def _money_columns(split: bool) -> tuple[str, ...]:
    return MONEY_COLUMNS if split else _UNSPLIT_COLUMNS


def _money_values(dialect_name: str, row: str, split: bool) -> list[str]:
    """SQL for the money columns' values of the contract `row` (NEW, OLD, d), in _money_columns order."""
    if not split:
        return [f"{row}.amount", f"{row}.tech_amount"]
    out = []
    for column in ("amount", "tech_amount"):
        out += [high_part_sql(dialect_name, f"{row}.{column}"), low_part_sql(dialect_name, f"{row}.{column}")]
    return out


def _upsert_sql(prefix: str, split: bool) -> str:
    sets = "".join(f", {c} = {prefix}{c} + excluded.{c}" for c in _money_columns(split))
    # bandit B608: trigger DDL from module constants (column names, the table prefix), no user input
    return f" ON CONFLICT (dim, region_id, side, ym, key) DO UPDATE SET n = {prefix}n + excluded.n{sets}"  # nosec B608


def _chain_sql(region_ref: str) -> str:
    """(aid, apath): the region and each of its ancestors, one row each (up to DEPTH levels)."""
    joins = "".join(f" LEFT JOIN regions a{k} ON a{k}.id = a{k - 1}.parent_id" for k in range(1, DEPTH))
    picks = " ".join(f"WHEN {k} THEN a{k}.id" for k in range(DEPTH))
    paths = " ".join(f"WHEN {k} THEN a{k}.path" for k in range(DEPTH))
    levels = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(DEPTH))
    return (
        # bandit B608: trigger DDL from module constants (NEW/OLD, DEPTH, DIM_SIDES), no user input
        f"(SELECT CASE lvl.k {picks} END AS aid, CASE lvl.k {paths} END AS apath"  # nosec B608
        f" FROM regions a0{joins} CROSS JOIN ({levels}) lvl WHERE a0.id = {region_ref})"
    )


def _field_key_sql(row: str) -> str:
    # bandit B608: trigger DDL from module constants (NEW/OLD, DEPTH, DIM_SIDES), no user input
    return f"COALESCE((SELECT CAST(COALESCE(f.parent_id, f.id) AS VARCHAR(16)) FROM fields f WHERE f.id = {row}.field_id), '')"  # nosec B608


def _apply_sql(row: str, sign: str, ym: str, live: str, upsert_prefix: str, split: bool, flows: bool,
               regdims: bool = False) -> list[str]:
    """INSERT ... ON CONFLICT statements adding (sign '') or removing (sign '-') one contract (SQLite)."""
    keys = {"all": "''", "type": f"{row}.contract_type", "field": _field_key_sql(row),
            **{dim: sql.format(row=row) for dim, sql in REG_DIM_SQL.items()}}
    columns = ", ".join(_money_columns(split))
    values = ", ".join(f"{sign}{value}" for value in _money_values("sqlite", row, split))
    out = []
    for dim in _dims(flows, regdims):
        for side in DIM_SIDES[dim]:
            if dim == "origin":  # the other party's place
                keys["origin"] = origin_key_sql(row, "seller" if side == "b" else "buyer")
            region = f"{row}.seller_region_id" if side == "s" else f"{row}.buyer_region_id"
            both = ""
            if side == "i":
                # bandit B608: trigger DDL from module constants (NEW/OLD, DEPTH, DIM_SIDES), no user input
                both = f" AND (SELECT sr.path FROM regions sr WHERE sr.id = {row}.seller_region_id) LIKE x.apath || '%'"  # nosec B608
            out.append(
                # bandit B608: trigger DDL from module constants (NEW/OLD, DEPTH, DIM_SIDES), no user input
                f"INSERT INTO {STATS_TABLE} (dim, region_id, side, ym, key, n, {columns})"  # nosec B608
                f" SELECT '{dim}', x.aid, '{side}', {ym}, {keys[dim]}, {sign}1, {values}"
                f" FROM {_chain_sql(region)} x"
                f" WHERE x.aid IS NOT NULL AND {live}{both}"
                + _upsert_sql(upsert_prefix, split)
            )
    return out


def _sqlite_apply(row: str, sign: str, split: bool, flows: bool, registered: bool, regdims: bool) -> list[str]:
    ym = f"CAST(strftime('%Y%m', {row}.signed_on) AS INTEGER)"
    return [sql + ";" for sql in _apply_sql(row, sign, ym, _counted_sql(row, registered), "", split, flows, regdims)]


def _sqlite_ddl(split: bool, flows: bool, registered: bool, regdims: bool) -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _relevant(flows, registered, regdims))
    body_new = "\n".join(_sqlite_apply("NEW", "", split, flows, registered, regdims))
    body_old = "\n".join(_sqlite_apply("OLD", "-", split, flows, registered, regdims))
    return [
        f"CREATE TRIGGER IF NOT EXISTS trg_contract_stats_insert AFTER INSERT ON contracts BEGIN\n{body_new}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS trg_contract_stats_update AFTER UPDATE ON contracts WHEN {changed} BEGIN\n"
        f"{body_old}\n{body_new}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS trg_contract_stats_delete AFTER DELETE ON contracts BEGIN\n{body_old}\nEND",
    ]


def _columns(flows: bool, registered: bool, regdims: bool) -> str:
    return ", ".join(_relevant(flows, registered, regdims))


def _postgres_upsert(delta: str, split: bool, flows: bool, registered: bool, regdims: bool) -> str:
    """One set-based upsert of every summary row touched by the contracts in `delta` (with a sign column).

    On PostgreSQL the triggers run once per statement over its transition tables: a COPY of a million
    contracts is one aggregate, not a million upserts piling row versions onto the busiest summary rows.
    """
    parents = "".join(f" LEFT JOIN regions {side}{k} ON {side}{k}.id = {side}{k - 1}.parent_id"
                      for side in ("b", "s") for k in range(1, DEPTH))
    chain = {side: ", ".join(f"({side}{k}.id, {side}{k}.path)" for k in range(DEPTH)) for side in ("b", "s")}
    columns = _money_columns(split)
    inner = ", ".join(f"{value} AS {c}" for c, value in zip(columns, _money_values("postgresql", "d", split)))
    sums = ", ".join(f"sum(e.sign * e.{c})" for c in columns)
    okey = (f"CASE sd.side WHEN 'b' THEN {origin_key_sql('d', 'seller')} ELSE {origin_key_sql('d', 'buyer')} END"
            if flows else "''")
    origin = ", ('origin', e.okey)" if flows else ""
    reg_inner = "".join(f", ({sql.format(row='d')})::varchar({KEY_LENGTH}) AS k_{dim}"
                        for dim, sql in REG_DIM_SQL.items()) if regdims else ""
    reg_keys = "".join(f", ('{dim}', e.k_{dim})" for dim in REG_DIM_SQL) if regdims else ""
    sql = (  # nosec B608 - built from module constants, no user input
        f"""
INSERT INTO {STATS_TABLE} AS t (dim, region_id, side, ym, key, n, {", ".join(columns)})
SELECT dk.dim, e.aid, e.side, e.ym, dk.key, sum(e.sign), {sums}
FROM (
  SELECT d.sign, {inner}, d.contract_type::varchar(16) AS contract_type,
         EXTRACT(YEAR FROM d.signed_on)::integer * 100 + EXTRACT(MONTH FROM d.signed_on)::integer AS ym,
         COALESCE(CAST(COALESCE(f.parent_id, f.id) AS VARCHAR(16)), '') AS fkey,
         sd.side, ch.aid, {okey} AS okey{reg_inner}
  FROM ({delta}) d
  LEFT JOIN regions b0 ON b0.id = d.buyer_region_id
  LEFT JOIN regions s0 ON s0.id = d.seller_region_id{parents}
  LEFT JOIN fields f ON f.id = d.field_id
  CROSS JOIN LATERAL (VALUES ('b'), ('s'), ('i')) AS sd(side)
  CROSS JOIN LATERAL (
    SELECT v.aid FROM (VALUES {chain["b"]}) AS v(aid, apath)
    WHERE sd.side = 'b' OR (sd.side = 'i' AND s0.path LIKE v.apath || '%')
    UNION ALL
    SELECT v.aid FROM (VALUES {chain["s"]}) AS v(aid, apath) WHERE sd.side = 's'
  ) AS ch
  WHERE {_counted_sql("d", registered)} AND ch.aid IS NOT NULL
) e
CROSS JOIN LATERAL (VALUES ('all', ''), ('type', e.contract_type), ('field', e.fkey){origin}{reg_keys}) AS dk(dim, key)
WHERE e.side <> 'i' OR dk.dim = 'all'
GROUP BY dk.dim, e.aid, e.side, e.ym, dk.key
{_upsert_sql("t.", split)}"""  # nosec B608
    )
    return sql


# The summary's upsert groups (region, side, month, dimension, key) of the statement's contracts: an import's
# statement of 1,000 contracts makes about 62,000 before grouping (21,000 groups). With the default 4 MB of work_mem
# the planner sorts them instead of hashing: 687 ms against 321 ms for that SELECT (EXPLAIN ANALYZE, same
# minute). A statement of 20,000 rows also started JIT compilation, 2.4 s that never paid back. Both settings apply
# inside these functions only (migration a19601c0ffee sets them on an existing database).
_FUNCTION_SETTINGS = "SET work_mem = '64MB' SET jit = off"


def _postgres_ddl(split: bool, flows: bool, registered: bool, regdims: bool) -> list[str]:
    relevant = _relevant(flows, registered, regdims)
    changed = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in relevant)
    cols = _columns(flows, registered, regdims)
    deltas = {
        "insert": f"SELECT 1 AS sign, {cols} FROM new_rows",  # nosec B608 - built from module constants, no user input
        "delete": f"SELECT -1 AS sign, {cols} FROM old_rows",  # nosec B608 - built from module constants, no user input
        "update": (
            f"SELECT -1 AS sign, {', '.join('o.' + c for c in relevant)}"  # nosec B608 - built from module constants, no user input
            f" FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {changed}"
            f" UNION ALL SELECT 1, {', '.join('n.' + c for c in relevant)}"
            f" FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {changed}"
        ),
    }
    refs = {"insert": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows",
            "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}
    out = []
    for op, delta in deltas.items():
        out += [
            f"""
CREATE OR REPLACE FUNCTION contract_stats_{op}() RETURNS trigger AS $$
BEGIN
  {_postgres_upsert(delta, split, flows, registered, regdims)};
  RETURN NULL;
END;
$$ LANGUAGE plpgsql {_FUNCTION_SETTINGS}""",
            f"DROP TRIGGER IF EXISTS trg_contract_stats_{op} ON contracts",
            f"CREATE TRIGGER trg_contract_stats_{op} AFTER {op.upper()} ON contracts REFERENCING {refs[op]}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION contract_stats_{op}()",
        ]
    return out


def trigger_ddl(dialect_name: str, *, split: bool = True, flows: bool = True, registered: bool = True,
                regdims: bool = True) -> list[str]:
    """The statements that install the triggers (for create_all and for a migration; split=False: the layout
    before revision a12b04c0ffee; flows=False: before a16a01c0ffee, no 'origin' rows; registered=False: before
    a18b01c0ffee, no reg_status; regdims=False: before a18e01c0ffee, no 登记表 dimensions)."""
    if dialect_name == "sqlite":
        return _sqlite_ddl(split, flows, registered, regdims)
    if dialect_name == "postgresql":
        return _postgres_ddl(split, flows, registered, regdims)
    raise NotImplementedError(f"contract statistics triggers for {dialect_name}")


def drop_trigger_ddl(dialect_name: str) -> list[str]:
    if dialect_name == "sqlite":
        return [f"DROP TRIGGER IF EXISTS trg_contract_stats_{op}" for op in ("insert", "update", "delete")]
    out = []
    for op in ("insert", "update", "delete"):
        out += [f"DROP TRIGGER IF EXISTS trg_contract_stats_{op} ON contracts",
                f"DROP FUNCTION IF EXISTS contract_stats_{op}()"]
    return out


def install_triggers(connection, *, split: bool = True, flows: bool = True, registered: bool | None = None,
                     regdims: bool | None = None) -> None:
    """Create the triggers (a migration calls this with `op.get_bind()`). `registered` defaults to whether the
    contracts table has its reg_status column yet (the migrations before a18b01c0ffee run without it);
    `regdims` to whether the summary's key has the width of revision a18e01c0ffee."""
    if registered is None:
        registered = _has_reg_status(connection)
    if regdims is None:
        regdims = registered and flows and _has_reg_dims(connection)
    for ddl in trigger_ddl(connection.dialect.name, split=split, flows=flows, registered=registered,
                           regdims=regdims):
        connection.execute(DDL(ddl.replace("%", "%%")))  # DDL() applies %-formatting


def drop_triggers(connection) -> None:
    for ddl in drop_trigger_ddl(connection.dialect.name):
        connection.execute(DDL(ddl))


@event.listens_for(Contract.__table__, "after_create")
def _install_triggers(target, connection, **kw) -> None:
    install_triggers(connection)


@event.listens_for(Contract.__table__, "before_drop")
def _drop_triggers(target, connection, **kw) -> None:
    drop_triggers(connection)


# The two expressions the summary's keys are made of, shared with the dashboard's reads of the contracts table
# (market/dashboard/stats.py), so that both group alike.
class year_month(FunctionElement):
    """year * 100 + month of a DATE column, as an integer."""

    type = Integer()
    inherit_cache = True


@compiles(year_month, "sqlite")
def _ym_sqlite(element, compiler, **kw):
    return f"CAST(strftime('%Y%m', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(year_month)
def _ym_default(element, compiler, **kw):
    arg = compiler.process(element.clauses, **kw)
    return f"(CAST(EXTRACT(YEAR FROM {arg}) AS INTEGER) * 100 + CAST(EXTRACT(MONTH FROM {arg}) AS INTEGER))"


def field_root_key(root):
    """The root field id as text ('' when the contract names no field), given `fields` joined as `root`."""
    return func.coalesce(cast(func.coalesce(root.parent_id, root.id), String(16)), "")


def rolled_rows_select(*, dim: str, split: bool = True, registered: bool = True):
    """What contract_month_stats must hold for one dim, computed from the contracts table.

    Columns: region_id, side, ym, key, n, and the money columns (amount_hi, amount, tech_amount_hi,
    tech_amount; split=False: amount, tech_amount).
    """
    ym = year_month(Contract.signed_on)
    parts = []
    for side in DIM_SIDES[dim]:
        for k in range(DEPTH):
            chain = [aliased(Region) for _ in range(k + 1)]
            own = Contract.seller_region_id if side == "s" else Contract.buyer_region_id
            stmt = select(Contract).join(chain[0], chain[0].id == own)
            for lower, upper in zip(chain, chain[1:]):
                stmt = stmt.join(upper, upper.id == lower.parent_id)
            anc = chain[-1]
            if dim == "field":
                root = aliased(Field)
                stmt = stmt.outerjoin(root, root.id == Contract.field_id)
                key = field_root_key(root)
            elif dim == "origin":
                key = origin_key(Contract.__table__, "seller" if side == "b" else "buyer")
            elif dim in REG_DIM_SQL:
                key = reg_dim_key(dim)
            else:
                key = Contract.contract_type if dim == "type" else literal("")
            if side == "i":
                seller = aliased(Region)
                stmt = stmt.join(seller, seller.id == Contract.seller_region_id).where(seller.path.startswith(anc.path))
            stmt = stmt.where(counted() if registered else Contract.voided == False)  # noqa: E712
            parts.append(stmt.with_only_columns(
                anc.id.label("region_id"), literal(side).label("side"), ym.label("ym"), key.label("key"),
                Contract.amount.label("amount"), Contract.tech_amount.label("tech_amount"),
            ))
    u = union_all(*parts).subquery("u")
    if split:
        sums = [*exact_sum(u.c.amount, "amount"), *exact_sum(u.c.tech_amount, "tech_amount")]
    else:
        sums = [func.sum(u.c.amount).label("amount"), func.sum(u.c.tech_amount).label("tech_amount")]
    return select(
        u.c.region_id, u.c.side, u.c.ym, u.c.key, func.count().label("n"), *sums,
    ).group_by(u.c.region_id, u.c.side, u.c.ym, u.c.key)


def origin_key(table, party: str):
    """The 'origin' key of one party as a SQL expression over a contracts table (or an alias of it)."""
    c = table.c
    return case(
        (c[f"{party}_region_id"].is_not(None), literal("L")),
        (c[f"{party}_country"] != "CN", c[f"{party}_country"]),
        else_=func.coalesce(func.substr(c[f"{party}_division"], 1, 4), ""),
    )


def reg_dim_key(dim: str, table=None):
    """The key of one 登记表 dimension (REG_DIM_SQL) as a SQL expression over the contracts table (or an alias)."""
    c = (table if table is not None else Contract.__table__).c
    if dim == "sub":
        return c.contract_type + literal(".") + func.coalesce(c.subtype, "")
    column = {"rfield": "reg_field", "lfs": "seller_legal_form", "lfb": "buyer_legal_form", "ip": "ip_type",
              "plan": "plan_source", "goal": "socio_goal"}[dim]
    return func.coalesce(c[column], "")


def rebuild_contract_stats(connection, *, dims=None, split: bool = True, flows: bool = True,
                           registered: bool | None = None, regdims: bool | None = None) -> None:
    """Recompute summary rows from the contracts table, in the caller's transaction (`registered`, `regdims`:
    as for install_triggers)."""
    if registered is None:
        registered = _has_reg_status(connection)
    if regdims is None:
        regdims = registered and flows and _has_reg_dims(connection)
    table = ContractMonthStat.__table__
    columns = _money_columns(split)
    for dim in dims or _dims(flows, regdims):
        connection.execute(table.delete().where(table.c.dim == dim))
        rows = rolled_rows_select(dim=dim, split=split, registered=registered).subquery("r")
        connection.execute(table.insert().from_select(
            ["dim", "region_id", "side", "ym", "key", "n", *columns],
            select(literal(dim), rows.c.region_id, rows.c.side, rows.c.ym, rows.c.key, rows.c.n,
                   *(rows.c[c] for c in columns)),
        ))


__all__ = ["COUNTED_SQL", "ContractMonthStat", "REG_DIM_SQL", "counted", "drop_triggers", "field_root_key",
           "install_triggers", "origin_key", "rebuild_contract_stats", "reg_dim_key", "rolled_rows_select", "trigger_ddl", "year_month"]
