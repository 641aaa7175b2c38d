# One image for every obgw process: `obgw serve --component gateway` or `--component sandbox`.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY consent consent
COPY sandbox sandbox
COPY openapi openapi
COPY policies policies
RUN pip install --no-cache-dir . && useradd --create-home obgw && mkdir -p /var/lib/obgw && chown obgw /var/lib/obgw
USER obgw
ENV OBGW_VAR_DIR=/var/lib/obgw \
    OBGW_POLICIES_DIR=/app/policies \
    OBGW_OPENAPI_DIR=/app/openapi
EXPOSE 8000 8001
CMD ["obgw", "serve", "--component", "gateway"]
