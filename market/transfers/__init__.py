"""公示 of 协议定价 and 挂牌 (issue 20 sections 1-2)."""
