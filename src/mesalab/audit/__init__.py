"""Transparency audits and reports: self-contained HTML with embedded figures, plus JSON."""
