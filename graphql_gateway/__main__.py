from apicore.serve import serve
from graphql_gateway.config import Settings

if __name__ == "__main__":
    serve("graphql_gateway.app:create_app", Settings())
