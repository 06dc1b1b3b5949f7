from apicore.serve import serve
from service_orders.config import Settings

if __name__ == "__main__":
    settings = Settings()
    serve(
        "service_orders.app:create_app",
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
    )
