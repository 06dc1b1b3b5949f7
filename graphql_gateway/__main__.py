from apicore.serve import serve
from graphql_gateway.config import Settings

if __name__ == "__main__":
    settings = Settings()
    serve(
        "graphql_gateway.app:create_app",
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
    )
