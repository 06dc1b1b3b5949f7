from apicore.serve import serve
from service_orders.config import Settings

if __name__ == "__main__":
    serve("service_orders.app:create_app", Settings())
