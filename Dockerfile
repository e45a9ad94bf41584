# Production image: PostgreSQL, several uvicorn workers, migrations applied at start.
# With several replicas, run `alembic upgrade head` once as a release step instead and set
# RUN_MIGRATIONS=0, so that replicas do not race to migrate.
FROM python:3.11-slim AS build
ENV UV_PROJECT_ENVIRONMENT=/srv/diandan/.venv UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /srv/diandan
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /srv/diandan diandan
WORKDIR /srv/diandan
COPY --from=build /srv/diandan/.venv ./.venv
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
ENV PATH=/srv/diandan/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DIANDAN_ENV=production \
    PORT=8000 \
    WEB_CONCURRENCY=4 \
    RUN_MIGRATIONS=1
USER diandan
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
CMD ["sh", "-c", "if [ \"$RUN_MIGRATIONS\" = 1 ]; then alembic upgrade head; fi && exec uvicorn app.asgi:app --host 0.0.0.0 --port \"$PORT\" --workers \"$WEB_CONCURRENCY\" --proxy-headers"]
