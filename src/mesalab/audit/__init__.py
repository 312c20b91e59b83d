"""Transparency audits of saved models: `audit.json` and a `report.html` drawn with `mesalab.report`."""
