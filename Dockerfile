# One image recipe, one final stage per process:
#   docker build --target service_users .   (likewise service_orders, api_gateway)

# ---- builder: the pinned dependencies in a virtualenv, compilers stay here ----
FROM python:3.12-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
# Only the dependency lists: a code change does not reinstall anything.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && pip install -c constraints.txt -r requirements.txt

# ---- runtime: the virtualenv and the shared wire contract, as a non-root user ----
FROM python:3.12-slim AS runtime
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TZ=UTC
WORKDIR /app
COPY apicore ./apicore
USER app

# ---- users service: migrate, then serve ----
FROM runtime AS service_users
COPY service_users ./service_users
ENV USERS_HOST=0.0.0.0 USERS_PORT=8001
EXPOSE 8001
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-m", "apicore.healthcheck", "http://127.0.0.1:8001/readyz"]
CMD ["sh", "-c", "python -m service_users.init_db && exec python -m service_users"]

# ---- orders service: migrate, then serve ----
FROM runtime AS service_orders
COPY service_orders ./service_orders
ENV ORDERS_HOST=0.0.0.0 ORDERS_PORT=8002
EXPOSE 8002
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-m", "apicore.healthcheck", "http://127.0.0.1:8002/readyz"]
CMD ["sh", "-c", "python -m service_orders.init_db && exec python -m service_orders"]

# ---- gateway: the only public entry point ----
FROM runtime AS api_gateway
COPY graphql_gateway ./graphql_gateway
ENV GATEWAY_HOST=0.0.0.0 GATEWAY_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "apicore.healthcheck", "http://127.0.0.1:8000/readyz"]
CMD ["python", "-m", "graphql_gateway"]
