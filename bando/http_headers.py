"""The security headers every HTML page bando serves carries, whichever part serves it.

One definition for the web pages and the OGC API's HTML: a strict Content-Security-Policy
(only our own origin; no inline script or style; no framing), ``nosniff`` and a
same-origin referrer policy. It lives in the core so both parts can use it without
depending on each other.
"""

from __future__ import annotations


def security_headers(extra_img_src: str = "") -> dict[str, str]:
    img = "'self'" + (f" {extra_img_src}" if extra_img_src else "")
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + img + "; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }
