import sys

from pydantic import ValidationError

from apicore.serve import serve
from graphql_gateway.config import Settings


def settings_or_exit() -> Settings:
    """The settings, or one line per problem and exit 2 (never the values: secrets)."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            name = f"GATEWAY_{where.upper()}: " if where else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            print(f"graphql_gateway: {name}{message}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    serve("graphql_gateway.app:create_app", settings_or_exit())
