# One image for every obgw process: `obgw serve --component gateway` or `--component sandbox`
# (docs/production.md section 7). Two stages: the first installs obgw and its dependencies into one virtual
# environment; the second keeps only that environment, the rulebook and the API documents, and runs as an
# unprivileged user with a numeric id (so an orchestrator's "run as non-root" check can verify it).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY consent consent
COPY sandbox sandbox
RUN python -m venv /opt/obgw && /opt/obgw/bin/pip install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --no-create-home obgw \
    && mkdir -p /var/lib/obgw && chown 10001:10001 /var/lib/obgw
COPY --from=build /opt/obgw /opt/obgw
COPY openapi /app/openapi
COPY policies /app/policies
ENV PATH=/opt/obgw/bin:$PATH \
    OBGW_VAR_DIR=/var/lib/obgw \
    OBGW_POLICIES_DIR=/app/policies \
    OBGW_OPENAPI_DIR=/app/openapi
WORKDIR /app
USER 10001:10001
EXPOSE 8000 8001
CMD ["obgw", "serve", "--component", "gateway"]
