"""Identity and access at the gateway (docs/auth.md): who is calling, and what they may do.

- `identity`: the verified caller (user id and roles), or UNRESTRICTED when auth is off.
- `tokens`: the gateway's own JWTs (HS256) and an identity provider's (JWKS).
- `policy`: the roles table, the one place REST routes and GraphQL resolvers ask.
- `ratelimit`: login and global limits (`limits`, in memory or on Redis).
- `frontdoor`: the ASGI middleware that authenticates and rate-limits every request.
- `login`: credentials checked by the users service, a token issued here.
"""
