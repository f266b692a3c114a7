# permsvc image for compose.yaml (no Docker engine runs on our dev machines; kept minimal).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY permsvc ./permsvc
COPY schema ./schema
RUN pip install --no-cache-dir .
EXPOSE 8080
ENTRYPOINT ["permsvc", "serve", "--host", "0.0.0.0", "--port", "8080"]
