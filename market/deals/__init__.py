"""Interest and introductions, the broker's pipeline (对接) and the suggestion queue."""
