# The image of compose.yaml: the production lock only (no test or browser tools), bytecode compiled.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/shop
COPY requirements/prod.txt requirements/prod.txt
RUN python -m pip install --no-cache-dir 'uv==0.13.9' \
    && uv pip sync --system --require-hashes --compile-bytecode requirements/prod.txt
COPY . .
RUN uv pip install --system --no-deps -e . && pybabel compile -d translations \
    && useradd --system shop && mkdir -p instance/uploads instance/backups && chown -R shop instance
USER shop
