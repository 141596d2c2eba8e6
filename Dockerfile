# syntax=docker/dockerfile:1
# Build: cgo is required (DuckDB is linked in).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -tags duckdb_arrow -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/syncd ./cmd/syncd \
 && CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/affise-sim ./cmd/affise-sim

# Run: a slim Debian (DuckDB needs libstdc++), as an unprivileged user, data on a volume.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /data syncd && mkdir -p /data && chown syncd /data
COPY --from=build /out/syncd /out/affise-sim /usr/local/bin/
COPY config.example.yaml /etc/syncd/config.example.yaml
USER syncd
WORKDIR /data
VOLUME ["/data"]
ENV SYNCD_CONFIG=/etc/syncd/syncd.yaml SYNCD_WAREHOUSE_PATH=/data/affise.duckdb SYNCD_HTTP_LISTEN=0.0.0.0:9464
EXPOSE 9464 5433
# The image has no curl: syncd itself asks its /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["syncd", "healthcheck"]
ENTRYPOINT ["syncd"]
CMD ["run"]
