"""Security headers every response of the three processes carries.

JSON answers get a policy that forbids everything (`default-src 'none'`): a browser that
opens one renders no script, style or frame from it. HTML pages (GraphiQL at
`GET /graphql`, `/docs`, `/redoc`) load scripts and styles from a CDN, so they get only
`frame-ancestors 'none'`: no site may frame them (clickjacking), and they still work.
"""

from __future__ import annotations

_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
SECURITY_HEADERS_JSON: tuple[tuple[bytes, bytes], ...] = (
    *_COMMON,
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
SECURITY_HEADERS_HTML: tuple[tuple[bytes, bytes], ...] = (
    *_COMMON,
    (b"content-security-policy", b"frame-ancestors 'none'"),
)


def security_headers(headers: list[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    """The headers to add to a response with these headers (HTML or not)."""
    for name, value in headers:
        if name == b"content-type":
            html = value.startswith(b"text/html")
            return SECURITY_HEADERS_HTML if html else SECURITY_HEADERS_JSON
    return SECURITY_HEADERS_JSON
