# A LOCAL STAND-IN for postgres:17, built by `make compose-smoke` only when that image can
# neither be found locally nor pulled (no registry reachable). It is Debian bookworm with
# Debian's PostgreSQL, which is 15, not 17, behind an entrypoint that keeps the part of
# the official image's contract docker-compose.yml uses: POSTGRES_USER/POSTGRES_PASSWORD,
# data in /var/lib/postgresql/data, the scripts of /docker-entrypoint-initdb.d run once on
# an empty volume, password logins over TCP, and pg_isready.
FROM sitetrack-standin/bookworm
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN mkdir -p /etc/postgresql-common \
 && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /docker-entrypoint-initdb.d /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
LABEL org.opencontainers.image.description="stand-in for postgres:17: Debian bookworm, PostgreSQL 15"
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/sh", "/usr/local/bin/docker-entrypoint.sh"]
