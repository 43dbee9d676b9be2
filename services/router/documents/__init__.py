"""Documents a unit issues through xiaoer (issue 27): the 核验码 and its QR code, certificates
xiaoer writes and signs for units without their own system, the one-page 核验单 beside a unit's
own PDF, and what the public verification shows.

The modules are self-contained (no database, no HTTP): ``codes``, ``qr``, ``templates``,
``signing``, ``verification``, ``settings`` and ``vocabulary``. See docs/certificates.md.
"""
