"""`/api/v1`: the open JSON API. Another door to the same rules as the pages: public reads use the pages' published-only
queries, writes go through market/listings/services.py as the signed-in pages do (a contract submitted for
registration through the page's SubmissionForm and market/registration/services.submission_create), statistics through
market/dashboard/stats.py within the official's region (permissions.in_scope)."""
from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal, InvalidOperation

from flask import Response, current_app, g, request, url_for
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import DomainError
from ..extensions import db
from ..listings import queries as listing_queries
from ..listings import services as listing_services
from ..matching import degree
from ..matching import queries as matching_queries
from ..models import LISTING_MODELS, Region
from ..permissions import can_see_contact, in_scope, is_listing_owner, user_region
from . import schemas, services
from .problems import ApiProblem
from .tokens import ENDPOINT_SCOPES, require_scope

bp = Blueprint("api", __name__, url_prefix="/api/v1",
               description="科技大市场开放接口：公开读取需求和成果、搜索；凭 API 令牌管理本单位条目、读取管辖区域统计。")

PLURAL = {"demand": "demands", "achievement": "achievements"}
LABEL = {"demand": "技术需求", "achievement": "科技成果"}
MAX_AMOUNT = Decimal("1000000000000")  # 1e12 元, the forms' bound (WanField caps at 1e8 万元)
PROBLEM = {"content_type": "application/problem+json"}
ENDPOINT_SCOPES.update({"api.stats": "stats:read", "api.token_info": ""})


# --- helpers -----------------------------------------------------------------------------------------------------

def yuan(value: Decimal | None) -> str | None:
    """An amount in 元 with two decimals, as a string (never a float)."""
    return None if value is None else format(Decimal(value).quantize(Decimal("0.01")), "f")


def listing_json(listing) -> dict:
    contact = None
    if can_see_contact(current_user, listing):
        contact = {"name": listing.contact_name, "phone": listing.contact_phone, "email": listing.contact_email}
    return {
        "id": listing.id,
        "kind": listing.KIND,
        "title": listing.title,
        "status": listing.status,
        "status_label": listing.status_label,
        "body": listing.body.strip(),
        "org": {"id": listing.org.id, "name": listing.org.name},
        "region": {"id": listing.region.id, "name": listing.region.name} if listing.region else None,
        "field": ({"id": listing.field.id, "code": listing.field.code, "name": listing.field.name}
                  if listing.field else None),
        "keywords": listing.keyword_list,
        "modes": listing.mode_list,
        "amount": yuan(listing.amount),
        "maturity": getattr(listing, "maturity", None),
        "deadline": getattr(listing, "deadline", None),
        "published_at": listing.published_at,
        "updated_at": listing.updated_at,
        "contact": contact,
        "url": url_for("listings.detail", kind=listing.KIND, listing_id=listing.id),
    }


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4)).decode("ascii")
    except (UnicodeError, ValueError, binascii.Error):
        raw = ""
    if not raw.startswith("id:") or not raw[3:].isdigit() or len(raw) > 15:
        raise ApiProblem(400, "分页游标无效，请使用上一页返回的 next_cursor。", errors={"cursor": "分页游标无效"})
    return int(raw[3:])


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def cursor_page(stmt, model, args: dict, to_json=None) -> dict:
    """One page of `stmt`, newest id first, after the cursor; next_cursor is null on the last page."""
    to_json = to_json or listing_json
    after = decode_cursor(args.get("cursor"))
    limit = args["limit"]
    stmt = stmt.order_by(None).order_by(model.id.desc())
    if after is not None:
        stmt = stmt.where(model.id < after)
    rows = db.session.scalars(stmt.limit(limit + 1)).unique().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [to_json(r) for r in rows],
            "next_cursor": encode_cursor(rows[-1].id) if more and rows else None}


def _token():
    return g.get("api_token")


def _visible(listing) -> bool:
    """Public listings for everyone; a non-public one to its owner's token holding listings:read."""
    if listing.is_public:
        return True
    token = _token()
    return token is not None and "listings:read" in token.scope_list and is_listing_owner(current_user, listing)


def _load(kind: str, listing_id: int):
    listing = db.session.get(LISTING_MODELS[kind], listing_id)
    if listing is None or not _visible(listing):
        raise ApiProblem(404, f"该{LABEL[kind]}不存在或未公开。")
    return listing


def _own(kind: str, listing_id: int, scope: str):
    require_scope(_token(), scope)
    listing = db.session.get(LISTING_MODELS[kind], listing_id)
    if listing is None or not is_listing_owner(current_user, listing):
        raise ApiProblem(404, f"该{LABEL[kind]}不存在，或不属于您的单位。")
    return listing


def _owner_role(kind: str) -> None:
    try:
        listing_services._check_owner_role(kind, current_user)
    except DomainError as err:
        raise ApiProblem(403, err.message) from err


def _amount(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ApiProblem(422, "填写内容有误，请按提示修改", errors={"amount": "金额格式不正确"}) from None
    if value > MAX_AMOUNT:
        raise ApiProblem(422, "填写内容有误，请按提示修改", errors={"amount": "金额过大"})
    return value


def service_data(kind: str, body: dict) -> dict:
    """The JSON body as the listing services take it (the same keys the page's form hands them)."""
    data = {
        "title": body["title"], "field_id": body["field_id"], "keywords": body.get("keywords") or [],
        "modes": body["modes"], "amount": _amount(body.get("amount")),
        "contact_name": body["contact_name"], "contact_phone": body["contact_phone"],
        "contact_email": body.get("contact_email", ""), "contact_public": body.get("contact_public", False),
    }
    if kind == "demand":
        data.update(description=body["body"], indicators=body.get("indicators", ""), deadline=body.get("deadline"))
    else:
        maturity = body.get("maturity")
        if maturity is None:
            raise ApiProblem(422, "填写内容有误，请按提示修改", errors={"maturity": "请选择技术成熟度"})
        data.update(summary=body["body"], maturity=maturity, ip_type=body.get("ip_type", ""),
                    ip_numbers=body.get("ip_numbers", ""), ip_status=body.get("ip_status", ""),
                    team_lead=body.get("team_lead") or body["contact_name"], team_members=body.get("team_members", ""))
    return data


def _domain_problem(err: DomainError) -> ApiProblem:
    status = err.status_code if err.status_code != 400 else 422
    errors = {("body" if k in ("description", "summary") else k): v for k, v in err.fields.items()}
    return ApiProblem(status, err.message, errors=errors)


def json_response(data, status: int = 200, schema=None, headers: dict | None = None) -> Response:
    body = schema().dumps(data, ensure_ascii=False) if schema is not None else json.dumps(data, ensure_ascii=False)
    response = Response(body, status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# --- public reads -----------------------------------------------------------------------------------------------

def _register_public(kind: str) -> None:
    plural = PLURAL[kind]
    filter_args = schemas.AchievementFilterArgs if kind == "achievement" else schemas.ListingFilterArgs

    @bp.route(f"/{plural}", endpoint=f"{plural}_list", methods=["GET"])
    @bp.arguments(filter_args, location="query", as_kwargs=True)
    @bp.response(200, schemas.ListingPage)
    @bp.alt_response(400, schema=schemas.ProblemSchema, **PROBLEM)
    def listing_list(**args):
        filters = {"field": args["field"], "region": args["region"], "mode": args["mode"],
                   "maturity": args.get("maturity"), "band": args["band"]}
        return cursor_page(listing_queries.public_listings(kind, filters=filters), LISTING_MODELS[kind], args)

    listing_list.__doc__ = f"公开的{LABEL[kind]}（已发布、已解决），筛选条件与页面相同；游标分页，新发布的在前。"

    @bp.route(f"/{plural}/<int:listing_id>", endpoint=f"{plural}_detail", methods=["GET"])
    @bp.response(200, schemas.ListingSchema)
    @bp.alt_response(404, schema=schemas.ProblemSchema, **PROBLEM)
    def listing_detail(listing_id: int):
        return listing_json(_load(kind, listing_id))

    listing_detail.__doc__ = f"一条{LABEL[kind]}：公开的，或持 listings:read 令牌的本单位条目。"

    ENDPOINT_SCOPES[f"api.{plural}_interest"] = "listings:write"

    @bp.route(f"/{plural}/<int:listing_id>/interests", endpoint=f"{plural}_interest", methods=["POST"])
    @bp.arguments(schemas.IdempotencyHeader, location="headers", as_kwargs=True)
    @bp.arguments(schemas.InterestWriteSchema, location="json", as_kwargs=True)
    @bp.response(201, schemas.InterestSchema)
    @bp.alt_response(401, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(403, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(404, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(409, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.doc(security=[{"bearerAuth": []}])
    def listing_interest(listing_id: int, idempotency_key=None, message: str = "", link_id=None):
        from ..deals import services as deal_services
        from ..formtokens import new_form_token

        listing = _load(kind, listing_id)

        def create() -> tuple[int, dict]:
            try:
                # the pages' one-time form token guards a double-clicked form; here Idempotency-Key does that
                interest = deal_services.interest_create(user=current_user, listing=listing, message=message,
                                                         token=new_form_token(), link_id=link_id)
            except DomainError as err:
                raise _domain_problem(err) from err
            return 201, {"id": interest.id, "kind": interest.kind, "status": interest.status,
                         "listing_kind": kind, "listing_id": listing.id}

        return idempotent(_token(), idempotency_key, create, schemas.InterestSchema,
                          location=lambda data: url_for("listings.detail", kind=kind, listing_id=listing.id))

    listing_interest.__doc__ = (f"对一条公开的{LABEL[kind]}表达合作意向（与页面相同的规则：企业对成果、高校院所对需求，"
                                "每个单位一次）。需要 listings:write。带 Idempotency-Key 重试只创建一条。")


for _kind in LISTING_MODELS:
    _register_public(_kind)


@bp.route("/search", endpoint="search", methods=["GET"])
@bp.arguments(schemas.SearchArgsSchema, location="query", as_kwargs=True)
@bp.response(200, schemas.SearchResultSchema)
@bp.alt_response(503, schema=schemas.ProblemSchema, **PROBLEM)
def search(**args):
    """全文搜索需求和成果，附分面统计（与搜索页相同的查询；按页分页，每页条数同页面）。"""
    from ..search import query
    from ..search.indexing import replica

    raw = {k: ("" if v is None else str(v)) for k, v in args.items()}
    sargs = query.parse_args(raw)
    index = replica()
    try:
        index.catch_up()
    except Exception:  # the replica logged it; hits are re-checked in the database
        db.session.rollback()
    try:
        pagination, facets, counts, _plan = query.run(index.backend(), sargs, per_page=current_app.config["PAGE_SIZE"])
    except Exception:
        db.session.rollback()
        current_app.logger.exception("api search failed for %r", sargs)
        raise ApiProblem(503, "搜索服务暂时不可用，请稍后再试。") from None
    return {
        "items": [listing_json(hit.listing) for hit in pagination.items],
        "total": pagination.total or 0,
        "page": sargs.page,
        "facets": {name: [{"value": str(f.value), "label": str(f.label), "count": int(f.count)} for f in values]
                   for name, values in facets.items()},
        "counts": {str(k): int(v) for k, v in counts.items()},
    }


@bp.route("/campaigns", endpoint="campaigns_list", methods=["GET"])
@bp.arguments(schemas.CursorArgs, location="query", as_kwargs=True)
@bp.response(200, schemas.CampaignPage)
@bp.alt_response(400, schema=schemas.ProblemSchema, **PROBLEM)
def campaigns_list(**args):
    """揭榜挂帅榜单（与公开页面相同，全部公开），新建的在前，附各榜的奖补资金和截止时间；游标分页。"""
    from ..models import Campaign

    def to_json(c) -> dict:
        return {"id": c.id, "title": c.title, "description": c.description,
                "region": {"id": c.region.id, "name": c.region.name} if c.region else None,
                "created_at": c.created_at,
                "tasks": [{"id": t.id, "title": t.title, "award": yuan(t.award), "deadline": t.deadline,
                           "announced": t.announced_at is not None,
                           "url": url_for("campaigns.task", task_id=t.id)} for t in c.tasks],
                "url": url_for("campaigns.detail", campaign_id=c.id)}

    from ..campaigns import queries as campaign_queries

    return cursor_page(campaign_queries.campaigns(), Campaign, args, to_json)


@bp.route("/events", endpoint="events_list", methods=["GET"])
@bp.arguments(schemas.CursorArgs, location="query", as_kwargs=True)
@bp.response(200, schemas.EventPage)
@bp.alt_response(400, schema=schemas.ProblemSchema, **PROBLEM)
def events_list(**args):
    """路演、对接会、成果巡展等活动（与公开页面相同，全部公开），新建的在前；游标分页。"""
    from ..models import Happening

    def to_json(h) -> dict:
        return {"id": h.id, "kind": h.kind, "kind_label": h.kind_label, "title": h.title, "place": h.place,
                "region": {"id": h.region.id, "name": h.region.name} if h.region else None,
                "starts_at": h.starts_at, "ends_at": h.ends_at, "status": h.status,
                "url": url_for("happenings.detail", happening_id=h.id)}

    return cursor_page(select(Happening), Happening, args, to_json)


# --- token: own listings ---------------------------------------------------------------------------------------

def _register_own(kind: str) -> None:
    plural = PLURAL[kind]
    for name, scope in (("list", "listings:read"), ("create", "listings:write"), ("detail", "listings:read"),
                        ("update", "listings:write"), ("suggestions", "listings:read")):
        ENDPOINT_SCOPES[f"api.my_{plural}_{name}"] = scope

    @bp.route(f"/my/{plural}", endpoint=f"my_{plural}_list", methods=["GET"])
    @bp.arguments(schemas.CursorArgs, location="query", as_kwargs=True)
    @bp.response(200, schemas.ListingPage)
    @bp.alt_response(401, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(403, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.doc(security=[{"bearerAuth": []}])
    def own_list(**args):
        require_scope(_token(), "listings:read")
        _owner_role(kind)
        stmt = listing_queries.own_listings(kind, org_id=current_user.org_id)
        return cursor_page(stmt.options(*listing_queries.card_loads(LISTING_MODELS[kind])), LISTING_MODELS[kind], args)

    own_list.__doc__ = f"本单位的全部{LABEL[kind]}（含草稿、待审核）。需要 listings:read。"

    @bp.route(f"/my/{plural}", endpoint=f"my_{plural}_create", methods=["POST"])
    @bp.arguments(schemas.IdempotencyHeader, location="headers", as_kwargs=True)
    @bp.arguments(schemas.ListingWriteSchema, location="json", as_kwargs=True)
    @bp.response(201, schemas.ListingSchema)
    @bp.alt_response(401, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(403, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(409, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.doc(security=[{"bearerAuth": []}])
    def own_create(idempotency_key=None, **body):
        token = _token()
        require_scope(token, "listings:write")
        _owner_role(kind)

        def create() -> tuple[int, dict]:
            data = service_data(kind, body)
            try:
                listing = listing_services.listing_create(kind=kind, user=current_user, data=data)
                if body.get("submit"):
                    listing_services.listing_transition(listing=listing, user=current_user, to="pending")
            except DomainError as err:
                raise _domain_problem(err) from err
            db.session.flush()
            return 201, listing_json(listing)

        return idempotent(token, idempotency_key, create, schemas.ListingSchema,
                          location=lambda data: url_for(f"api.my_{plural}_detail", listing_id=data["id"]))

    own_create.__doc__ = (f"新建本单位的{LABEL[kind]}，保存为草稿；submit=true 时同时提交审核（与页面相同的审核流程）。"
                          "需要 listings:write。带 Idempotency-Key 重试只创建一条。")

    @bp.route(f"/my/{plural}/<int:listing_id>", endpoint=f"my_{plural}_detail", methods=["GET"])
    @bp.response(200, schemas.ListingSchema)
    @bp.alt_response(401, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(403, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(404, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.doc(security=[{"bearerAuth": []}])
    def own_detail(listing_id: int):
        return listing_json(_own(kind, listing_id, "listings:read"))

    own_detail.__doc__ = f"本单位的一条{LABEL[kind]}，任何状态。需要 listings:read。"

    @bp.route(f"/my/{plural}/<int:listing_id>", endpoint=f"my_{plural}_update", methods=["PUT"])
    @bp.arguments(schemas.ListingWriteSchema, location="json", as_kwargs=True)
    @bp.response(200, schemas.ListingSchema)
    @bp.alt_response(401, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(403, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(404, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(409, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.doc(security=[{"bearerAuth": []}])
    def own_update(listing_id: int, **body):
        listing = _own(kind, listing_id, "listings:write")
        data = service_data(kind, body)
        try:
            listing_services.listing_update(listing=listing, user=current_user, data=data)
            if body.get("submit") and listing.status in ("draft", "returned"):
                listing_services.listing_transition(listing=listing, user=current_user, to="pending")
        except DomainError as err:
            raise _domain_problem(err) from err
        out = listing_json(listing)
        db.session.commit()
        return out

    own_update.__doc__ = (f"修改本单位的{LABEL[kind]}（页面上的同一规则：已发布条目的修改在审核通过前不公开）。"
                          "需要 listings:write。")

    @bp.route(f"/my/{plural}/<int:listing_id>/suggestions", endpoint=f"my_{plural}_suggestions", methods=["GET"])
    @bp.response(200, schemas.SuggestionList)
    @bp.alt_response(401, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(403, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.alt_response(404, schema=schemas.ProblemSchema, **PROBLEM)
    @bp.doc(security=[{"bearerAuth": []}])
    def own_suggestions(listing_id: int):
        listing = _own(kind, listing_id, "listings:read")
        rows = db.session.scalars(matching_queries.for_listing(listing).limit(50)).all()
        items = []
        for s in rows:
            other = s.achievement if kind == "demand" else s.demand
            shown = degree.match_degree(s.score)  # the pages' 匹配度 and label (the stored score is already 0-100)
            items.append({"score": shown, "strength": degree.strength_label(shown), "own": getattr(s, f"{kind}_pick"),
                          "reasons": matching_queries.reasons_of(s), "listing": listing_json(other)})
        return {"items": items}

    own_suggestions.__doc__ = (f"推荐匹配：与本单位这条{LABEL[kind]}匹配的公开条目，附匹配度（0-100，与页面相同）、强/中/弱和理由；"
                               "本条目自己的匹配排出的在前。需要 listings:read。")


for _kind in LISTING_MODELS:
    _register_own(_kind)


def idempotent(token, key: str | None, create, schema, *, location, fingerprint: str | None = None) -> Response:
    """Run `create` once per (token, Idempotency-Key): a retry with the same body gets the first answer again, a
    different body under the same key is refused; concurrent retries wait on a lock and the unique constraint.
    `fingerprint`: of what was sent, where the raw body differs between retries (a multipart boundary)."""
    if key is None:
        status, data = create()
        body = schema().dumps(data, ensure_ascii=False)
        db.session.commit()
        return _created(status, body, location)
    fingerprint = fingerprint or services.request_fingerprint(request.method, request.path, request.get_data())
    services.idempotency_lock(token_id=token.id, key=key)
    found = services.idempotency_find(token_id=token.id, key=key)
    if found is None:
        status, data = create()
        body = schema().dumps(data, ensure_ascii=False)
        services.idempotency_record(token_id=token.id, key=key, fingerprint=fingerprint, status=status, body=body)
        try:
            db.session.commit()
        except IntegrityError:  # a concurrent request with the same key won: answer with its result
            db.session.rollback()
            found = services.idempotency_find(token_id=token.id, key=key)
            if found is None:
                raise
        else:
            return _created(status, body, location)
    if found.fingerprint != fingerprint:
        raise ApiProblem(422, "该 Idempotency-Key 已用于内容不同的请求；新的请求请换一个键。",
                         errors={"Idempotency-Key": "已用于内容不同的请求"})
    response = _created(found.status, found.body, location)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _created(status: int, body: str, location) -> Response:
    response = Response(body, status=status, mimetype="application/json")
    try:
        response.headers["Location"] = location(json.loads(body))
    except (ValueError, KeyError, TypeError):
        pass
    return response


# --- token: 技术合同登记 (the seller side submits with the scan, as on /registration/submit) -------------------

ENDPOINT_SCOPES.update({"api.contracts_submit": "contracts:submit", "api.my_contracts_list": "contracts:submit"})


def _form_fingerprint(scan) -> str:
    """The fields and the scan's bytes (a multipart body's boundary changes with every retry of a client)."""
    import hashlib

    digest = hashlib.sha256()
    for name, value in sorted(request.form.items(multi=True)):
        digest.update(f"{name}={value}\n".encode("utf-8", "surrogatepass"))
    if scan is not None:
        digest.update(f"scan:{scan.filename}\n".encode("utf-8", "surrogatepass"))
        digest.update(scan.stream.read())
        scan.stream.seek(0)
    return services.request_fingerprint(request.method, request.path, digest.hexdigest().encode())


def _form_problem(form) -> ApiProblem:
    errors = {name: msgs[0] for name, msgs in form.errors.items()
              if name not in (None, "registration_no", "csrf_token") and msgs}
    if form.form_errors:
        errors["_schema"] = form.form_errors[0]
    return ApiProblem(400, "填写内容有误，请按提示修改", errors=errors)


def contract_json(contract) -> dict:
    from ..registration import queries as reg_queries
    from ..registration.services import PLACEHOLDER_PREFIX

    number = contract.registration_no
    point = contract.reg_point
    return {"id": contract.id, "title": contract.title,
            "registration_no": None if number.startswith(PLACEHOLDER_PREFIX) else number,
            "contract_type": contract.contract_type, "amount": yuan(contract.amount),
            "tech_amount": yuan(contract.tech_amount), "signed_on": contract.signed_on,
            "status": contract.reg_status, "status_label": reg_queries.status_label(contract),
            "reg_point": {"id": point.id, "name": point.name} if point is not None else None,
            "submitted_at": contract.submitted_at,
            "url": url_for("registration.detail", contract_id=contract.id)}


@bp.route("/contracts", endpoint="contracts_submit", methods=["POST"])
@bp.arguments(schemas.IdempotencyHeader, location="headers", as_kwargs=True)
@bp.arguments(schemas.ContractSubmitForm, location="files", as_kwargs=True)  # documented as multipart/form-data
@bp.response(201, schemas.ContractSubmittedSchema)
@bp.alt_response(400, schema=schemas.ProblemSchema, **PROBLEM)
@bp.alt_response(401, schema=schemas.ProblemSchema, **PROBLEM)
@bp.alt_response(403, schema=schemas.ProblemSchema, **PROBLEM)
@bp.alt_response(409, schema=schemas.ProblemSchema, **PROBLEM)
@bp.alt_response(413, schema=schemas.ProblemSchema, **PROBLEM)
@bp.alt_response(422, schema=schemas.ProblemSchema, **PROBLEM)
@bp.doc(security=[{"bearerAuth": []}])
def contracts_submit(idempotency_key=None, **_parsed):
    """提交技术合同登记（multipart/form-data）：字段与页面“提交登记”表单相同，另附 scan（合同扫描件，PDF）；
    同一规则（卖方单位的认证用户为本单位提交，技术经纪人为其负责区域内的合同提交），由受理的登记点办理。
    返回合同 id、状态（待登记）和受理的登记点。填写有误为 400，errors 按字段给出中文说明。需要 contracts:submit。
    带 Idempotency-Key 重试只提交一次。"""
    from ..contracts import services as contract_services
    from ..formtokens import new_form_token
    from ..registration import services as reg_services
    from ..registration.forms import SubmissionForm

    token = _token()
    require_scope(token, "contracts:submit")
    scan = request.files.get("scan")
    fingerprint = _form_fingerprint(scan) if idempotency_key is not None else None

    def create() -> tuple[int, dict]:
        form = SubmissionForm(formdata=request.form, meta={"csrf": False}).setup()
        if not form.validate():  # the page's form: every error at once, as there
            form.add_problems(contract_services.validate_terms(contract_services.with_outside_places(form.data_dict())))
            raise _form_problem(form)
        try:
            # the page's one-time form token guards a double-clicked form; here Idempotency-Key does that
            contract = reg_services.submission_create(user=current_user, data=form.data_dict(),
                                                      token=new_form_token(), scan=scan)
        except DomainError as err:
            raise ApiProblem(err.status_code, err.message, errors=err.fields) from err
        db.session.flush()
        return 201, contract_json(contract)

    return idempotent(token, idempotency_key, create, schemas.ContractSubmittedSchema, fingerprint=fingerprint,
                      location=lambda data: url_for("registration.detail", contract_id=data["id"]))


@bp.route("/my/contracts", endpoint="my_contracts_list", methods=["GET"])
@bp.arguments(schemas.CursorArgs, location="query", as_kwargs=True)
@bp.response(200, schemas.ContractPage)
@bp.alt_response(400, schema=schemas.ProblemSchema, **PROBLEM)
@bp.alt_response(401, schema=schemas.ProblemSchema, **PROBLEM)
@bp.alt_response(403, schema=schemas.ProblemSchema, **PROBLEM)
@bp.doc(security=[{"bearerAuth": []}])
def my_contracts_list(**args):
    """本人提交的技术合同登记（与页面“我提交的技术合同登记”相同：本人提交的、本单位为卖方的、本人经纪的），
    含待登记、已退回、已登记；金额为元，两位小数的字符串；游标分页，新的在前。需要 contracts:submit。"""
    from ..models import Contract
    from ..registration import queries as reg_queries

    require_scope(_token(), "contracts:submit")
    return cursor_page(reg_queries.submissions_of(current_user), Contract, args, contract_json)


# --- token: statistics for officials -----------------------------------------------------------------------------

def _figures(row, side: str) -> dict:
    f = row.sides[side]
    return {"n": int(f.n), "amount": yuan(f.amount), "tech_amount": yuan(f.tech_amount)}


def _row(row) -> dict:
    return {"key": str(row.key), "name": str(row.name), "buyer": _figures(row, "b"), "seller": _figures(row, "s")}


@bp.route("/stats", endpoint="stats", methods=["GET"])
@bp.arguments(schemas.StatsArgs, location="query", as_kwargs=True)
@bp.response(200, schemas.StatsSchema)
@bp.alt_response(401, schema=schemas.ProblemSchema, **PROBLEM)
@bp.alt_response(403, schema=schemas.ProblemSchema, **PROBLEM)
@bp.alt_response(404, schema=schemas.ProblemSchema, **PROBLEM)
@bp.doc(security=[{"bearerAuth": []}])
def stats_view(region=None, year=None):
    """管辖区域的技术合同统计（与统计看板相同的口径）：合计、按区域、按合同类型；金额为元，两位小数的字符串。需要 stats:read。"""
    from ..dashboard import queries as dashboard_queries
    from ..dashboard import stats

    require_scope(_token(), "stats:read")
    if current_user.role not in ("official", "admin"):
        raise ApiProblem(403, "只有科技局工作人员和管理员可以读取统计数据。")
    if region is None:
        scope = user_region(current_user) if current_user.role == "official" else None
        if current_user.role == "official" and scope is None:
            raise ApiProblem(403, "您的账号尚未设置管辖区域，请联系管理员。")
    else:
        scope = db.session.get(Region, region)
        if scope is None:
            raise ApiProblem(404, "该区域不存在。", errors={"region": "区域不存在"})
        if not in_scope(current_user, scope):
            raise ApiProblem(403, "您无权查看该区域的数据。", errors={"region": "不在管辖范围内"})
    year = year or dashboard_queries.today().year
    period = stats.Period.year(year)
    stats.plan_each_query()  # as the dashboard does before its figures
    figures = stats.overview(scope=scope, period=period)
    return {
        "region": {"id": scope.id, "name": scope.name} if scope is not None else None,
        "year": year,
        "total": _row(figures.current),
        "by_region": [_row(r) for r in figures.tables.get("region", [])],
        "by_type": [_row(r) for r in figures.tables.get("type", [])],
    }


@bp.route("/token", endpoint="token_info", methods=["GET"])
@bp.response(200, schemas.TokenInfoSchema)
@bp.alt_response(401, schema=schemas.ProblemSchema, **PROBLEM)
@bp.doc(security=[{"bearerAuth": []}])
def token_info():
    """当前令牌：名称、权限、有效期和所属账号。"""
    token = _token()
    if token is None:
        raise ApiProblem(401, "该接口需要 API 令牌：请在请求头中提供 Authorization: Bearer 令牌。",
                         headers={"WWW-Authenticate": 'Bearer realm="api"'})
    return {"name": token.name, "scopes": token.scope_list, "expires_at": token.expires_at,
            "user": token.user.username, "role": token.user.role}


from .hooks import attach  # noqa: E402  (the hooks need the blueprint)

attach(bp)
