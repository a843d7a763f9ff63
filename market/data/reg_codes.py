"""The reference codes of the 技术合同登记表 as a new install starts with them (kinds and codes).

Codes are data: the migration a18a01c0ffee inserts a frozen copy of this list and `flask init-reference` inserts
it into an empty table; administrators then edit labels, add codes and deactivate them (market/admin/, 登记表代码).
Each row: (kind, code, label, parent_code). A code with children is a heading; only leaves are chosen on forms.
"""
from __future__ import annotations

REG_CODE_KINDS = {
    "legal_form": "法人性质",
    "ip_type": "知识产权类型",
    "reg_field": "登记技术领域",
    "plan_source": "计划来源",
    "socio_goal": "社会经济目标",
}

# 买方/卖方性质: the 登记表's 3-digit codes; enterprises by 登记注册类型 (国家工商行政管理局《关于划分企业登记注册类型的规定》)
LEGAL_FORMS = (
    ("010", "机关法人", None),
    ("020", "事业法人", None),
    ("021", "科研机构", "020"),
    ("022", "高等院校", "020"),
    ("023", "医疗卫生", "020"),
    ("024", "其他事业法人", "020"),
    ("030", "社团法人", None),
    ("040", "企业法人", None),
    ("100", "内资企业", "040"),
    ("110", "国有企业", "100"),
    ("120", "集体企业", "100"),
    ("130", "股份合作企业", "100"),
    ("140", "联营企业", "100"),
    ("150", "有限责任公司", "100"),
    ("160", "股份有限公司", "100"),
    ("170", "私营企业", "100"),
    ("190", "其他内资企业", "100"),
    ("200", "港澳台商投资企业", "040"),
    ("300", "外商投资企业", "040"),
    ("400", "个人", None),
)

IP_TYPES = (
    ("1", "技术秘密"),
    ("2", "专利"),
    ("3", "计算机软件著作权"),
    ("4", "集成电路布图设计"),
    ("5", "动植物新品种"),
    ("6", "生物医药新品种"),
    ("9", "未涉及"),
)

# the registration's own 11 技术领域 (not the 8 高新技术领域 of the listings)
REG_FIELDS = (
    ("01", "电子信息"),
    ("02", "先进制造"),
    ("03", "航空航天"),
    ("04", "现代交通"),
    ("05", "生物医药和医疗器械"),
    ("06", "新材料及其应用"),
    ("07", "新能源与高效节能"),
    ("08", "环境保护与资源综合利用"),
    ("09", "核应用"),
    ("10", "农业"),
    ("11", "城市建设与社会发展"),
)

PLAN_SOURCES = (
    ("1", "国家计划"),
    ("2", "部门计划"),
    ("3", "省级计划"),
    ("4", "地市县计划"),
    ("5", "计划外"),
)

# 火炬统计's 社会经济目标
SOCIO_GOALS = (
    ("01", "环境保护、生态建设及污染防治"),
    ("02", "能源生产、分配和合理利用"),
    ("03", "卫生事业发展"),
    ("04", "教育事业发展"),
    ("05", "基础设施以及城市和农村规划"),
    ("06", "社会发展和社会服务"),
    ("07", "地球和大气层的探索与利用"),
    ("08", "民用空间探测及开发"),
    ("09", "农林牧渔业发展"),
    ("10", "工商业发展"),
    ("11", "非定向研究"),
    ("12", "国防"),
    ("99", "其他"),
)

DEFAULT_REG_CODES: tuple[tuple[str, str, str, str | None], ...] = (
    *(("legal_form", code, label, parent) for code, label, parent in LEGAL_FORMS),
    *(("ip_type", code, label, None) for code, label in IP_TYPES),
    *(("reg_field", code, label, None) for code, label in REG_FIELDS),
    *(("plan_source", code, label, None) for code, label in PLAN_SOURCES),
    *(("socio_goal", code, label, None) for code, label in SOCIO_GOALS),
)

# the 法人性质 an organisation's type suggests when it has none of its own (the form's default; the checks flag a
# contradiction between the two)
ORG_TYPE_LEGAL_FORMS = {"university": "022", "institute": "021", "enterprise": "150"}
