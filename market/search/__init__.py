"""Full-text search: the shared analyzer and interchangeable index backends (Whoosh, Tantivy)."""
