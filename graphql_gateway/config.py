from __future__ import annotations

from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from apicore.addresses import networks
from apicore.settings import ProcessSettings

MIN_SECRET_BYTES = 32


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    port: int = 8000
    users_url: str = "http://127.0.0.1:8001"
    orders_url: str = "http://127.0.0.1:8002"

    breaker_fail_max: int = Field(5, ge=1)
    breaker_reset_timeout: float = Field(30.0, gt=0, description="Seconds until a half-open trial")
    breaker_probe_interval: float = Field(
        0.5, ge=0.05, description="Seconds between probes of an open circuit's service /health"
    )
    # A high failure rate opens a circuit too (clients/breaker.py): at least min_calls calls
    # in the last breaker_window seconds, breaker_failure_rate percent of them failed.
    breaker_window: float = Field(10.0, gt=0, le=3600, description="Seconds of outcomes kept")
    breaker_min_calls: int = Field(20, ge=1, description="Calls in the window before a rate")
    breaker_failure_rate: float = Field(
        50.0, gt=0, le=100, description="Percent of failed calls that opens the circuit"
    )
    upstream_timeout: float = Field(
        5.0,
        gt=0,
        description="Seconds a service has to answer, from when the call has its connection",
    )
    # How long a call may wait for one of the pool's connections (clients/admission.py);
    # past it the call is shed: 503 with Retry-After, never counted against the service.
    pool_timeout: float = Field(1.0, gt=0, le=60, description="Seconds to wait for a connection")
    # A user's order book closed this long ago while the user still exists is what a delete
    # that died halfway left behind: the next order for the user reopens it (integrity.py).
    delete_stale_after: float = Field(15.0, gt=0, description="Seconds a delete may take")
    # Shared with the orders service (ORDERS_GATEWAY_TOKEN): with it, every write names its
    # acting user, recorded in the order's history (service_orders/acting.py).
    service_token: SecretStr | None = Field(None, description="Token the orders service trusts")
    health_probe_timeout: float = Field(1.0, gt=0, le=1.0)
    # httpcore checks every pooled connection on each request: a pool much larger than
    # the concurrency a service can serve costs CPU and buys nothing.
    pool_max_connections: int = Field(8, ge=1)
    # What sends the downstream requests: our own small HTTP/1.1 client (clients/raw.py,
    # about half aiohttp's CPU per call), aiohttp's connections under httpx's API
    # (clients/transport.py) or httpx's own (httpcore).
    http_transport: Literal["raw", "aiohttp", "httpx"] = "raw"

    graphql_max_depth: int = 10
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 2000
    # Checked after parsing, before validation (graphql/limits.py).
    graphql_max_document_bytes: int = Field(64 * 1024, ge=1)
    graphql_max_fields: int = Field(250, ge=1, description="Field selections, fragments expanded")
    graphql_max_cost: int = Field(50_000, ge=1, description="Estimated cost (demand control)")
    graphql_assumed_list_size: int = Field(10, ge=0, description="Items of a list with no limit")
    graphql_max_list_items: int = Field(500, ge=1, description="Items of any list argument")
    graphql_max_json_depth: int = Field(32, ge=1, description="Nesting of variables, extensions")
    graphql_document_cache_entries: int = Field(512, ge=0)
    graphql_document_cache_bytes: int = Field(4 * 1024 * 1024, ge=0)
    # None: on in development, off in production; set it to decide either way.
    graphql_introspection: bool | None = None
    graphql_compile: bool = Field(True, description="Run compiled plans where they apply")
    # Strawberry's extension hooks looked up once per class, not per request
    # (graphql_gateway/graphql/hooks.py); off: Strawberry's own lookups.
    graphql_cached_hooks: bool = True

    # Identity and access (docs/auth.md). Off: every route open, as the original API.
    auth: Literal["off", "on"] = "off"
    jwt_secret: SecretStr | None = Field(None, description="HS256 key of the gateway's tokens")
    jwt_ttl: int = Field(300, ge=60, le=7 * 24 * 3600, description="Seconds an access token lives")
    # How long a worker trusts its last answer on whether a session stands (auth/sessions.py):
    # the bound on a logout, a role or password change or a deletion taking effect.
    session_check_interval: float = Field(
        1.0, ge=0, le=60, description="Seconds a session's standing is remembered"
    )
    # Our own tokens name us as issuer; an identity provider's must name jwt_issuer.
    jwt_local_issuer: str = "sitetrack-gateway"
    jwt_audience: str = "sitetrack"
    jwt_issuer: str | None = Field(None, description="Issuer of the JWKS provider's tokens")
    jwks_url: str | None = Field(None, description="An identity provider's JSON Web Key Set")
    jwks_algorithms: str = "RS256,ES256"
    jwt_leeway: float = Field(10.0, ge=0, le=300, description="Clock skew allowed on exp/iat")
    # Login attempts at one account (its canonical email), successful ones included.
    login_rate_limit: str = "10/minute"
    # Failed logins from one client address, whichever accounts (auth/ratelimit.py).
    login_address_rate_limit: str = "50/minute"
    rate_limit: str | None = Field(None, description="For everything: per user, else address")
    redis_url: str | None = Field(None, description="Rate limits shared by workers, replicas")
    redis_key_prefix: str = "sitetrack"
    cors_origins: str = Field("", description="Comma-separated origins allowed by CORS")
    # The original API's later version under /v1 (rest/v1/): None is on exactly when auth
    # is on; its clients log in, so `on` with auth off is refused.
    v1_api: Literal["on", "off"] | None = None
    v1_registration: Literal["on", "off"] = Field("on", description="POST /v1/users/register")
    v1_rate_limit: str = Field("100/minute", description="Each /v1 route, per user")
    v1_create_rate_limit: str = Field("20/minute", description="POST /v1/orders, per user")
    # Proxies (addresses or networks) whose X-Forwarded-For names the client: behind a load
    # balancer, the address the rate limits count is the client's, not the balancer's.
    trusted_proxies: str = ""

    @field_validator(
        "rate_limit",
        "redis_url",
        "jwks_url",
        "jwt_issuer",
        "v1_api",
        "service_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        networks(value)
        return value

    @field_validator(
        "login_rate_limit",
        "login_address_rate_limit",
        "rate_limit",
        "v1_rate_limit",
        "v1_create_rate_limit",
    )
    @classmethod
    def _rate_limit_parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_many(value)
            except ValueError:
                raise ValueError(f"not a rate limit like '10/minute': {value!r}") from None
        return value

    @model_validator(mode="after")
    def _auth_is_configured(self) -> Settings:
        if self.auth == "on":
            secret = self.jwt_secret.get_secret_value().encode() if self.jwt_secret else b""
            if len(secret) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"GATEWAY_AUTH=on needs GATEWAY_JWT_SECRET of at least {MIN_SECRET_BYTES}"
                    f" bytes (it has {len(secret)}); make one with: "
                    "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
        if self.v1_api == "on" and self.auth != "on":
            raise ValueError(
                "GATEWAY_V1_API=on needs GATEWAY_AUTH=on: the /v1 API's clients log in"
            )
        if self.jwks_url and not self.jwt_issuer:
            raise ValueError("GATEWAY_JWKS_URL needs GATEWAY_JWT_ISSUER (the provider's `iss`)")
        return self

    @property
    def auth_enabled(self) -> bool:
        return self.auth == "on"

    @property
    def v1_enabled(self) -> bool:
        return self.auth_enabled and self.v1_api != "off"

    @property
    def v1_registration_enabled(self) -> bool:
        return self.v1_enabled and self.v1_registration == "on"

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def jwks_algorithm_list(self) -> list[str]:
        algorithms = [a.strip() for a in self.jwks_algorithms.split(",") if a.strip()]
        # Symmetric keys are ours alone: a provider's token is never checked as HMAC.
        return [a for a in algorithms if not a.startswith("HS") and a.lower() != "none"]

    @property
    def graphql_introspection_enabled(self) -> bool:
        if self.graphql_introspection is not None:
            return self.graphql_introspection
        return self.env != "production"

    @property
    def graphql_suggestions(self) -> bool:
        """ "Did you mean …?" in error messages: a map of the schema, for developers only."""
        return self.env != "production"
