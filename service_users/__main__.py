from apicore.serve import serve
from service_users.config import Settings

if __name__ == "__main__":
    settings = Settings()
    serve(
        "service_users.app:create_app",
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
    )
