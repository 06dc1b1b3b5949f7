"""Security headers every response of the three processes carries.

JSON answers get a policy that forbids everything (`default-src 'none'`): a browser that
opens one renders no script, style or frame from it. HTML pages (GraphiQL at
`GET /graphql`, `/docs`) load their scripts, styles, fonts and images from this origin
only (apicore/assets.py; data: fonts and images are GraphiQL's and Swagger UI's own) and
talk to no other: a request elsewhere is refused by the browser and reported in its
console at once. No inline script or style runs. A page that cannot do without more
(ReDoc, apicore/docs.py) sends a policy of its own from `html_policy`, which this
middleware then leaves alone. No site may frame any of them (clickjacking).
"""

from __future__ import annotations

_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
HTML_DIRECTIVES = (
    ("default-src", "'none'"),
    ("script-src", "'self'"),
    ("style-src", "'self'"),
    ("font-src", "'self' data:"),
    ("img-src", "'self' data:"),
    ("connect-src", "'self'"),
    ("base-uri", "'none'"),
    ("form-action", "'none'"),
    ("frame-ancestors", "'none'"),
)


def html_policy(**relaxed: str) -> str:
    """The policy for HTML pages, `relaxed` (`worker_src="blob:"`) replacing or adding."""
    directives = dict(HTML_DIRECTIVES) | {k.replace("_", "-"): v for k, v in relaxed.items()}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


SECURITY_HEADERS_JSON: tuple[tuple[bytes, bytes], ...] = (
    *_COMMON,
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
SECURITY_HEADERS_HTML: tuple[tuple[bytes, bytes], ...] = (
    *_COMMON,
    (b"content-security-policy", html_policy().encode("ascii")),
)


def security_headers(headers: list[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    """The headers to add to a response with these headers (HTML or not, own policy or not)."""
    if any(name == b"content-security-policy" for name, _ in headers):
        return _COMMON
    for name, value in headers:
        if name == b"content-type":
            html = value.startswith(b"text/html")
            return SECURITY_HEADERS_HTML if html else SECURITY_HEADERS_JSON
    return SECURITY_HEADERS_JSON
