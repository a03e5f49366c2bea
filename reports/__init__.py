"""Reports: daily, weekly and monthly figures of the hotline (日报、周分析、月通报).

Map (pure core first, then the thin shell):

* `periods`  report periods in Asia/Shanghai: days, Monday-Sunday weeks, months, presets,
             the period compared with, the red-zone months;
* `model`    the rows a report reads and the report it becomes (frozen dataclasses);
* `build`    `build_report(ReportInputs) -> Report`: volumes, rates (reused from
             `workorders.rates`), daily answer rate, key callers;
* `ranking`  unit scores, 红榜/黑榜, the red-zone rule (bottom three, three months running);
* `topics`   hot categories and words, rising ones first;
* `charts`   inline SVG (bars, a daily line, unit ranking), drawn on the server;
* `html`     the report as HTML pieces, shared by the page and the print page;
* `export`   JSON (the API) and CSV (UTF-8 with BOM, for Excel);
* `repo`     reads the store (SQLite or PostgreSQL) into `model` rows;
* `web`      the routes (/reports, /reports/print, /reports.csv, /api/reports) and the
             `ReportService` that reads, builds and keeps reports;
* `feature`  `build(core)`, listed in `hotline.features.BUILDERS`.

Measured by bench/reports.py; the e2e test (tests/e2e/test_reports.py) writes
screenshots and an A4 PDF to test-artifacts/screenshots/.
"""
