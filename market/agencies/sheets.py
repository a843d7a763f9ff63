"""The yearly performance sheets as downloadable tables, in the house style of every report
(market/dashboard/exports.py: title rows, 万元 with the exact 元 beside each amount, cells escaped)."""
from __future__ import annotations

from ..dashboard.exports import Table
from ..models import Contract, Organization, User
from .queries import Figures, Sheet

NOTES = [
    "口径：合同为已登记且未作废的技术合同（与数据看板相同），按签订日期计入年度；合同归属对接的经纪人（无对接时为合同登记的经纪人），"
    "机构为对接记录的服务机构：无对接记录或对接未记录机构的合同不计入任何机构（与“成交来源”相同）；机构的对接数为记录该机构的对接。",
    "对接数为当年新建的对接；经手需求数为这些对接涉及的不同企业需求；需求征集数为当年由经纪人登记征集的企业需求"
    "（计入登记时经纪人所在的服务机构）。",
    "举办活动数为当年举行、未取消的路演、对接会、成果巡展：由该经纪人组织，或由科技局指定本机构承办。",
    "到账金额为当年登记到账的款项（付款日期在当年），所属合同按上述口径归属，不论合同哪年签订。",
]
HEADERS = ["对接数（个）", "其中签约（个）", "经手需求数（项）", "登记合同数（份）", "合同成交额（元）", "技术交易额（元）",
           "举办活动数（个）", "需求征集数（项）", "到账金额（元）"]


def _cells(f: Figures) -> list:
    return [f.deals, f.signed_deals, f.needs, f.contracts, f.amount, f.tech_amount, f.events, f.collected,
            f.received]


def agency_table(agency: Organization, sheet: Sheet) -> Table:
    place = agency.region.name if agency.region else ""
    table = Table(filename=f"服务机构年度绩效_{agency.name}_{sheet.year}年", title=f"{agency.name} {sheet.year}年度绩效",
                  headers=["技术经纪人", "证书编号", *HEADERS], place=place, period=f"{sheet.year}年")
    for user, f in sheet.lines:
        table.rows.append([user.name, user.broker_cert_no, *_cells(f)])
    table.rows.append(["合计", "", *_cells(sheet.total)])
    table.notes += NOTES
    return table


def broker_table(broker: User, year: int, f: Figures, contracts: list[Contract]) -> Table:
    place = broker.region.name if broker.region else ""
    agency = broker.org.name if broker.org else ""
    table = Table(filename=f"技术经纪人年度绩效_{broker.name}_{year}年", title=f"技术经纪人 {broker.name} {year}年度绩效",
                  headers=["项目", "登记编号", "签订日期", "买方", "卖方", "合同成交额（元）", "技术交易额（元）"],
                  place=place, period=f"{year}年")
    table.rows.append([f"所属服务机构：{agency}", f"证书编号：{broker.broker_cert_no}", "", "", "", None, None])
    table.rows.append([f"对接 {f.deals} 个（签约 {f.signed_deals} 个），经手需求 {f.needs} 项，举办活动 {f.events} 个，"
                       f"需求征集 {f.collected} 项，到账金额（核实） {f.received:,.2f} 元，经纪人自报到账（待核实） "
                       f"{f.reported:,.2f} 元", "", "", "", "", None, None])
    for c in contracts:
        table.rows.append([c.title or "技术合同", c.registration_no, c.signed_on.isoformat(), c.buyer_org.name,
                           c.seller_org.name, c.amount, c.tech_amount])
    table.rows.append([f"合计（{f.contracts} 份）", "", "", "", "", f.amount, f.tech_amount])
    table.notes += NOTES
    return table
