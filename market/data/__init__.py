"""Reference and demo data for 科技大市场 (pure Python: no Flask, no database)."""
