"""服务机构, 技术经纪人 and 专家库 (issue 19 section 3)."""
