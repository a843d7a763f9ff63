"""The technology-contract register (技术合同): record, payments, void, audit trail, import."""
