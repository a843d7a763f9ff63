"""The officials' dashboard: contract figures, targets, conversions, coverage and data checks."""
