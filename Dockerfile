# gruponos worker image: the flows, the engine, the dbt project and the Meltano project on
# Prefect's base image. Build from the repository root:
#   docker build -t gruponos-worker:latest .
# Run a worker (process pool: flow runs execute inside this container):
#   docker run --env-file prod.env gruponos-worker:latest
# With the docker pools of prefect.yaml (gruponos-dev|staging|prod) a Docker worker starts one
# container of this image per flow run; its command replaces CMD below.
FROM prefecthq/prefect:3.8.8-python3.11

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/gruponos/.venv \
    PATH=/opt/gruponos/.venv/bin:$PATH \
    PREFECT_LOGGING_EXTRA_LOGGERS=gruponos \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    GRUPONOS_WORK_POOL=gruponos-prod

RUN pip install --no-cache-dir uv==0.13.9 \
    && groupadd --system --gid 10001 gruponos \
    && useradd --system --uid 10001 --gid gruponos --home-dir /opt/gruponos --shell /usr/sbin/nologin gruponos

WORKDIR /opt/gruponos

# dependencies first (cached while only the code changes), exactly as locked
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-group perf --no-install-project

COPY gruponos ./gruponos
COPY flows ./flows
COPY transform ./transform
COPY meltano/meltano.yml meltano/README.md ./meltano/
COPY prefect.yaml ./
RUN uv sync --frozen --no-dev --no-group perf \
    && meltano --cwd meltano install \
    && mkdir -p data \
    && chown -R gruponos:gruponos /opt/gruponos

USER 10001:10001
# a shell form would not pass signals; the pool comes from the environment
CMD ["sh", "-c", "exec prefect worker start --pool \"$GRUPONOS_WORK_POOL\""]
