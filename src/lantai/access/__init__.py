"""档案利用: the public portal's accounts, requests and grants, reading-room bookings, 利用登记
and watermarked access copies (docs/access.md).

Modules: ``config`` (the YAML data file), ``accounts`` (citizen registration), ``requests``
(applications, staff decisions, grants), ``appointments`` (reading-room slots), ``uselog``
(利用登记 and its totals), ``portal`` (what the public may see), ``copies`` (page access copies),
``watermark`` (the viewer/time overlay).
"""
