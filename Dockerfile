# permsvc image: `docker build -t permsvc .` (compose.yaml and deploy/kubernetes/ use it).
# Two stages: the build stage installs permsvc and its dependencies (with the tracing extra) into a
# virtual environment, with a compiler at hand for any dependency without a wheel; the final stage
# is the slim Python image plus that environment only - no compiler, no pip cache, no source tree -
# and runs as an unprivileged user with a read-only root filesystem in mind (nothing is written
# outside /tmp).

FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY permsvc ./permsvc
RUN python -m venv /opt/permsvc \
    && /opt/permsvc/bin/pip install --no-cache-dir '.[otel]' \
    && /opt/permsvc/bin/python -m compileall -q /opt/permsvc

FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 permsvc \
    && useradd --system --uid 10001 --gid permsvc --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin permsvc
COPY --from=build /opt/permsvc /opt/permsvc
ENV PATH="/opt/permsvc/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PERMSVC_DATA_DIR=/tmp/permsvc
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["permsvc"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
