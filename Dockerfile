# syntax=docker/dockerfile:1
# Production image: authapi on PostgreSQL + Redis (configure with AUTHAPI_* variables).
#   docker build -t authapi .
#   docker run -p 8000:8000 -e AUTHAPI_DATABASE_URL=… -e AUTHAPI_REDIS_URL=… \
#              -e AUTHAPI_ENCRYPTION_KEYS=… -e AUTHAPI_PUBLIC_URL=https://… authapi
# Run `docker run … authapi migrate` once per release before starting new instances.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt alembic.ini ./
COPY alembic ./alembic
COPY src ./src
# the built-in pages' JavaScript client, shipped inside the wheel (pyproject force-include)
COPY clients/js/dist ./clients/js/dist
# authapi and every dependency as wheels, pinned by constraints.txt
RUN python -m pip wheel --no-cache-dir -c constraints.txt --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AUTHAPI_DATA_DIR=/var/lib/authapi
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/authapi --create-home authapi
COPY --from=build /wheels /tmp/wheels
RUN python -m pip install --no-cache-dir --no-index --find-links /tmp/wheels authapi \
    && rm -rf /tmp/wheels
USER authapi
WORKDIR /var/lib/authapi
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["authapi"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
