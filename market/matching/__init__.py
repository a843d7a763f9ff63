"""Suggestions pairing needs (技术需求) with results (科技成果): the engine, its stored output, its pages."""
