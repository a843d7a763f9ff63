"""Topics: the groups of notice kinds a user chooses e-mail for (at once, a daily digest, or none)."""
from __future__ import annotations

#: topic -> (label shown on the settings page, default e-mail mode)
TOPICS: dict[str, tuple[str, str]] = {
    "listing": ("我的需求和成果：审核通过、退回（含理由）、状态变化", "now"),
    "org": ("单位认证结果", "now"),
    "deal": ("意向与对接：新意向、答复、经纪人认领与阶段推进", "now"),
    "contract": ("技术合同与付款", "now"),
    "suggestion": ("我的需求和成果的新强匹配推荐", "digest"),
    "subscription": ("我订阅的新需求和新成果", "digest"),
    "target": ("本区域的目标任务", "now"),
    "other": ("其他（账号审核、导入结果等）", "now"),
}

_PREFIXES = (
    ("listing_", "listing"), ("org_", "org"), ("interest_", "deal"), ("deal_", "deal"), ("contract_", "contract"),
    ("payment_", "contract"), ("suggestion_", "suggestion"), ("subscription_", "subscription"), ("target_", "target"),
)


def topic_of(kind: str) -> str:
    for prefix, topic in _PREFIXES:
        if kind.startswith(prefix):
            return topic
    return "other"


def topic_label(topic: str) -> str:
    return TOPICS.get(topic, TOPICS["other"])[0]
