"""揭榜挂帅 campaigns (issue 19 section 1)."""
