# A LOCAL STAND-IN for python:3.12-slim, built by `make compose-smoke` only when that image
# can neither be found locally nor pulled (no registry reachable). It is Debian bookworm
# (a debootstrap rootfs, imported as sitetrack-standin/bookworm) with Debian's own Python,
# which is 3.11, not 3.12: `python` and `pip` where the real image has them, venv included.
# It trusts the CA bundle of the machine that built it (copied in as ca-certificates.crt),
# so pip reaches PyPI through the same TLS-inspecting proxy, if any, as the host does.
FROM sitetrack-standin/bookworm
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/bin/python3 /usr/local/bin/python
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_BREAK_SYSTEM_PACKAGES=1
LABEL org.opencontainers.image.description="stand-in for python:3.12-slim: Debian bookworm, Python 3.11"
CMD ["python3"]
