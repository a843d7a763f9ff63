"""Jinja filters and globals."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser

from flask import Flask, request, url_for
from markupsafe import Markup, escape

from .money import format_count, format_wan, format_wan_about, format_yuan, wan_figure

CHINA_TZ = timezone(timedelta(hours=8))


def local_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(CHINA_TZ).strftime(fmt)


def local_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_dt(value, "%Y-%m-%d")
    return value.strftime("%Y-%m-%d")


def maturity_label(level: int | None) -> str:
    from .models.listing import MATURITY_LEVELS

    return MATURITY_LEVELS.get(level or 0, "—")


def ip_label(listing) -> str:
    from .models.listing import IP_STATUSES, IP_TYPES

    if not listing.ip_type:
        return "—"
    parts = [IP_TYPES.get(listing.ip_type, listing.ip_type)]
    if listing.ip_numbers:
        parts.append(listing.ip_numbers)
    if listing.ip_status:
        parts.append(IP_STATUSES.get(listing.ip_status, listing.ip_status))
    return " · ".join(parts)


def status_name(status: str | None, listing) -> str:
    """A status in a listing's history ("新建" before the first)."""
    from .models.listing import status_label

    return "新建" if status is None else status_label(status, listing.KIND)


def wan_html(amount, empty: str = "面议") -> Markup:
    """`{{ amount|wan }}`: '1,234.57万元' with the exact yuan in its tooltip (title); `empty` when None."""
    if amount is None:
        return escape(empty)
    return Markup('<span class="wan" title="{}">{}万元</span>').format(format_yuan(amount), wan_figure(amount))


def wan_number_html(amount) -> Markup:
    """`{{ amount|wan_number }}`: the same figure without the unit, for table cells whose header says 万元."""
    if amount is None:
        return Markup("—")
    return Markup('<span class="wan" title="{}">{}</span>').format(format_yuan(amount), wan_figure(amount))


def url_with(**changes) -> str:
    """The current URL with some query arguments replaced (None removes one)."""
    view_args = request.view_args or {}
    # a query argument named like a URL part (?kind=x) or like url_for's own (?_scheme=, ?endpoint=) is dropped
    args = {k: v for k, v in request.args.to_dict(flat=False).items()
            if k not in view_args and k != "endpoint" and not k.startswith("_")}
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = [value]
    return url_for(request.endpoint, **view_args, **args)


def init_templating(app: Flask) -> None:
    # money and counts, the one rule for every page (issue 17 item 8): 万元 with two decimals and separators,
    # the exact yuan in a tooltip (wan, wan_number) or beside it in a detail view (yuan); counts whole
    app.jinja_env.filters["wan"] = wan_html
    app.jinja_env.filters["wan_number"] = wan_number_html
    app.jinja_env.filters["wan_text"] = format_wan  # inside attributes and script data: plain text
    app.jinja_env.filters["wan_about"] = format_wan_about
    app.jinja_env.filters["yuan"] = format_yuan
    app.jinja_env.filters["whole"] = format_count  # not "count": Jinja's own (length)
    # phones: a list table is written with class="table-cards …" and each body cell's data-label in its template;
    # the cards filter that re-parsed every rendering to add them stays only until no template uses it
    app.jinja_env.filters["cards"] = table_cards
    app.jinja_env.filters["dt"] = local_dt
    app.jinja_env.filters["d"] = local_date
    app.jinja_env.globals["url_with"] = url_with
    app.jinja_env.globals["maturity_label"] = maturity_label
    app.jinja_env.globals["ip_label"] = ip_label
    app.jinja_env.globals["status_name"] = status_name
    from .divisions import datalist_options

    app.jinja_env.globals["division_datalist"] = datalist_options  # templates/_macros/division.html
    # rich text a user wrote: `{{ text|clean_html }}` (allowlist sanitizer), never `|safe`
    from .sanitize import clean_html_markup

    app.jinja_env.filters["clean_html"] = clean_html_markup
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    init_nav(app)


# (label, endpoint, url args, roles): shown only when the endpoint exists, so a feature's
# links appear as soon as its blueprint is registered.
NAV = [
    ("我的需求", "listings.mine", {"kind": "demand"}, {"enterprise"}),
    ("我的成果", "listings.mine", {"kind": "achievement"}, {"institution"}),
    ("推荐匹配", "matching.mine", {}, {"enterprise", "institution"}),
    ("对接", "deals.board", {}, {"broker", "official", "admin", "enterprise", "institution"}),
    ("技术合同", "contracts.index", {}, {"broker", "official", "admin"}),
    ("审核", "review.queue", {}, {"official", "admin"}),
    ("数据看板", "dashboard.index", {}, {"official", "admin"}),
    ("合同登记", "registration.index", {}, {"registrar", "enterprise", "institution", "broker", "official", "admin"}),
    ("经纪人名册", "agencies.brokers", {}, {"official", "admin"}),
    ("专家库", "agencies.experts", {}, {"official", "admin"}),
    ("经纪人主页", "agencies.broker_profile", {}, {"broker"}),
    ("系统管理", "admin.index", {}, {"admin"}),
]


def init_nav(app: Flask) -> None:
    from flask_login import current_user

    @app.context_processor
    def _nav():
        links = []
        unread = None
        verified = True
        if current_user.is_authenticated:
            from .permissions import OPEN_TO_UNVERIFIED, is_verified_actor

            verified = is_verified_actor(current_user)
            for label, endpoint, args, roles in NAV:
                if current_user.role in roles and endpoint in app.view_functions and (
                        verified or endpoint in OPEN_TO_UNVERIFIED):
                    links.append((label, url_for(endpoint, **args)))
            if not verified:
                links.append(("认证状态", url_for("auth.account_status")))
            from .registries import registries

            counter = registries(app).unread_counter
            if counter is not None:
                unread = counter(current_user)
        return {"nav_links": links, "nav_endpoints": app.view_functions, "nav_unread": unread,
                "nav_verified": verified}


# --- phones: list tables as cards (issue 17 item 10) -------------------------------------------------------------
# The templates now write class="table-cards" and each body cell's data-label themselves (issue 18: the filter
# below re-parsed every rendered table, ~5 ms per 50-row table). It is kept, deprecated, for a template that
# still wraps a table in {% filter cards %}; tests/test_table_cards.py checks the written labels.

class _CardLabels(HTMLParser):
    """Re-emits rendered HTML unchanged, except that each top-level table gets the class table-cards and every
    body or footer cell a data-label naming its column (from the table's one header row), unless it has one."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.depth = 0  # table nesting: only the outermost table's own cells are labelled
        self.section = ""  # thead | tbody | tfoot of the outermost table
        self.labels: list[str] = []
        self.header_rows = 0
        self.col = 0
        self.label: list[str] | None = None  # the text of a header cell being read
        self.label_span = 1
        self.active = False
        self.table_at = -1  # where the outermost table's start tag is in out, and as written
        self.table_text = ""

    def _tag(self, text: str, attrs: dict, *, label: str | None = None, add_class: str | None = None) -> str:
        end = len(text) - (2 if text.endswith("/>") else 1)
        extra = ""
        if add_class is not None:
            if "class" in attrs:
                text = re.sub(r'(\sclass=")', rf"\g<1>{add_class} ", text, count=1)
                end = len(text) - (2 if text.endswith("/>") else 1)
            else:
                extra += f' class="{add_class}"'
        if label is not None:
            extra += f' data-label="{label}"'
        return text[:end] + extra + text[end:]

    def handle_starttag(self, tag, attrs):
        text = self.get_starttag_text() or ""
        attrs = dict(attrs)
        if tag == "table":
            self.depth += 1
            if self.depth == 1:
                skip = "data-no-cards" in attrs or "dash-table" in (attrs.get("class") or "").split()
                self.active = not skip
                self.labels, self.header_rows, self.section = [], 0, ""
                self.table_at, self.table_text = len(self.out), text
                if self.active and "table-cards" not in (attrs.get("class") or "").split():
                    text = self._tag(text, attrs, add_class="table-cards")
        elif self.depth == 1 and self.active:
            if tag in ("thead", "tbody", "tfoot"):
                self.section = tag
            elif tag == "tr":
                self.col = 0
                if self.section == "thead":
                    self.header_rows += 1
            elif tag in ("th", "td") and self.section == "thead":
                span = str(attrs.get("colspan") or "1")
                self.label, self.label_span = [], int(span) if span.isdigit() else 1
            elif tag in ("td", "th") and self.section in ("tbody", "tfoot", ""):
                span = int(attrs.get("colspan")) if str(attrs.get("colspan") or "").isdigit() else 1
                if (self.header_rows == 1 and span == 1 and "data-label" not in attrs
                        and self.col < len(self.labels) and self.labels[self.col]):
                    text = self._tag(text, attrs, label=self.labels[self.col])
                self.col += span
        self.out.append(text)

    def handle_startendtag(self, tag, attrs):
        self.out.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag):
        if tag == "table":
            self.depth = max(0, self.depth - 1)
            if self.depth == 0:
                self.section = ""
                if self.active and self.header_rows != 1:  # a grid with a multi-row header keeps scrolling
                    self.out[self.table_at] = self.table_text
                self.active = False
        elif self.depth == 1 and tag in ("th", "td") and self.label is not None:
            label = " ".join("".join(self.label).split()).replace('"', "&#34;")
            self.labels += [label] * max(1, self.label_span)
            self.label = None
        elif self.depth == 1 and tag in ("thead", "tbody", "tfoot"):
            self.section = ""
        self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if self.label is not None and self.depth == 1:
            self.label.append(data)
        self.out.append(data)

    def handle_entityref(self, name):
        if self.label is not None and self.depth == 1:
            self.label.append(f"&{name};")
        self.out.append(f"&{name};")

    def handle_charref(self, name):
        if self.label is not None and self.depth == 1:
            self.label.append(f"&#{name};")
        self.out.append(f"&#{name};")

    def handle_comment(self, data):
        self.out.append(f"<!--{data}-->")

    def handle_decl(self, decl):
        self.out.append(f"<!{decl}>")

    def unknown_decl(self, data):
        self.out.append(f"<![{data}]>")

    def handle_pi(self, data):
        self.out.append(f"<?{data}>")


def table_cards(html) -> Markup:
    """`{% filter cards %}<table ...>...</table>{% endfilter %}`: below 576 px the table reads as cards, one row a
    card, each cell labelled with its column (static/css/app.css), with no JavaScript. The labels are written on
    the server from the table's single header row; a table marked data-no-cards, a dashboard grid (.dash-table)
    or one with a multi-row header is returned unchanged but for the class."""
    if not isinstance(html, Markup):  # only an autoescaped rendering is re-emitted as safe; anything else escaped
        html = escape(html)
    parser = _CardLabels()
    parser.feed(str(html))
    parser.close()
    # bandit B704: Markup of our own rendered, autoescaped template output, re-emitted token by token
    return Markup("".join(parser.out))  # nosec B704
