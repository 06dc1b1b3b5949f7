from apicore.serve import serve
from service_users.config import Settings

if __name__ == "__main__":
    serve("service_users.app:create_app", Settings())
