"""登记表 fields: reference codes and the contract's registration-form columns (issue 16 item 3)

Revision ID: a18a01c0ffee
Revises: a17c01c0ffee
Create Date: 2026-12-06 16:30:00

A table of reference codes (法人性质, 知识产权类型, the registration's 11 技术领域, 计划来源, 社会经济目标), seeded
with the codes of this revision; the contract gains the 登记表's coded fields, 预计新增投入/产值 and the 技术交易额
worksheet (设备、原材料、其他非技术费用); an organisation gains its 法人性质. All new columns are nullable: older
contracts have none of them. Only columns are added (no table copy), so the contracts' stats triggers stay.
"""
import sqlalchemy as sa
from alembic import op

import market.money


# revision identifiers, used by Alembic.
revision = 'a18a01c0ffee'
down_revision = 'a17c01c0ffee'
branch_labels = None
depends_on = None

# a frozen copy of market.data.reg_codes.DEFAULT_REG_CODES as of this revision: (kind, code, label, parent_code)
CODES = (
    ('legal_form', '010', '机关法人', None),
    ('legal_form', '020', '事业法人', None),
    ('legal_form', '021', '科研机构', '020'),
    ('legal_form', '022', '高等院校', '020'),
    ('legal_form', '023', '医疗卫生', '020'),
    ('legal_form', '024', '其他事业法人', '020'),
    ('legal_form', '030', '社团法人', None),
    ('legal_form', '040', '企业法人', None),
    ('legal_form', '100', '内资企业', '040'),
    ('legal_form', '110', '国有企业', '100'),
    ('legal_form', '120', '集体企业', '100'),
    ('legal_form', '130', '股份合作企业', '100'),
    ('legal_form', '140', '联营企业', '100'),
    ('legal_form', '150', '有限责任公司', '100'),
    ('legal_form', '160', '股份有限公司', '100'),
    ('legal_form', '170', '私营企业', '100'),
    ('legal_form', '190', '其他内资企业', '100'),
    ('legal_form', '200', '港澳台商投资企业', '040'),
    ('legal_form', '300', '外商投资企业', '040'),
    ('legal_form', '400', '个人', None),
    ('ip_type', '1', '技术秘密', None),
    ('ip_type', '2', '专利', None),
    ('ip_type', '3', '计算机软件著作权', None),
    ('ip_type', '4', '集成电路布图设计', None),
    ('ip_type', '5', '动植物新品种', None),
    ('ip_type', '6', '生物医药新品种', None),
    ('ip_type', '9', '未涉及', None),
    ('reg_field', '01', '电子信息', None),
    ('reg_field', '02', '先进制造', None),
    ('reg_field', '03', '航空航天', None),
    ('reg_field', '04', '现代交通', None),
    ('reg_field', '05', '生物医药和医疗器械', None),
    ('reg_field', '06', '新材料及其应用', None),
    ('reg_field', '07', '新能源与高效节能', None),
    ('reg_field', '08', '环境保护与资源综合利用', None),
    ('reg_field', '09', '核应用', None),
    ('reg_field', '10', '农业', None),
    ('reg_field', '11', '城市建设与社会发展', None),
    ('plan_source', '1', '国家计划', None),
    ('plan_source', '2', '部门计划', None),
    ('plan_source', '3', '省级计划', None),
    ('plan_source', '4', '地市县计划', None),
    ('plan_source', '5', '计划外', None),
    ('socio_goal', '01', '环境保护、生态建设及污染防治', None),
    ('socio_goal', '02', '能源生产、分配和合理利用', None),
    ('socio_goal', '03', '卫生事业发展', None),
    ('socio_goal', '04', '教育事业发展', None),
    ('socio_goal', '05', '基础设施以及城市和农村规划', None),
    ('socio_goal', '06', '社会发展和社会服务', None),
    ('socio_goal', '07', '地球和大气层的探索与利用', None),
    ('socio_goal', '08', '民用空间探测及开发', None),
    ('socio_goal', '09', '农林牧渔业发展', None),
    ('socio_goal', '10', '工商业发展', None),
    ('socio_goal', '11', '非定向研究', None),
    ('socio_goal', '12', '国防', None),
    ('socio_goal', '99', '其他', None),
)

_CODE_COLUMNS = ('seller_legal_form', 'buyer_legal_form', 'ip_type', 'reg_field', 'plan_source', 'socio_goal')
_MONEY_COLUMNS = ('expected_investment', 'expected_output', 'nontech_equipment', 'nontech_materials', 'nontech_other')


def upgrade():
    table = op.create_table(
        'reg_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('code', sa.String(length=8), nullable=False),
        sa.Column('label', sa.String(length=100), nullable=False),
        sa.Column('parent_code', sa.String(length=8), nullable=True),
        sa.Column('sort', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.CheckConstraint("kind IN ('legal_form', 'ip_type', 'reg_field', 'plan_source', 'socio_goal')",
                           name=op.f('ck_reg_codes_kind')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reg_codes')),
        sa.UniqueConstraint('kind', 'code', name='uq_reg_codes_kind_code'),
    )
    op.bulk_insert(table, [{'kind': kind, 'code': code, 'label': label, 'parent_code': parent, 'sort': i,
                            'active': True} for i, (kind, code, label, parent) in enumerate(CODES, start=1)])
    # plain ALTER TABLE ... ADD COLUMN (nullable, no constraint): no table copy on SQLite
    op.add_column('organizations', sa.Column('legal_form', sa.String(length=8), nullable=True))
    for name in _CODE_COLUMNS:
        op.add_column('contracts', sa.Column(name, sa.String(length=8), nullable=True))
    for name in _MONEY_COLUMNS:
        op.add_column('contracts', sa.Column(name, market.money.Money(), nullable=True))


def downgrade():
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): no table copy, so the contracts' stats triggers stay
    for name in reversed(_MONEY_COLUMNS + _CODE_COLUMNS):
        op.drop_column('contracts', name)
    op.drop_column('organizations', 'legal_form')
    op.drop_table('reg_codes')
