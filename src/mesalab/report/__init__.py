"""Reports: self-contained HTML pages with embedded figures, built from sections and tables.

`html` holds the parts (`Section`, `Table`, `embed_figure`, `render_report`); `plots` draws
the figures that diagnostics keep as data. Every experiment's report, the sweep reports and
the audit are written with them.
"""
