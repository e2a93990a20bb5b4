# syntax=docker/dockerfile:1
#
# omnigate as a container: the single compiled executable on Debian slim, running as a non-root
# user, with its SQLite database (and, in demo mode, its generated master key) in /data.
#
#   docker build -t omnigate .
#   docker run --rm -p 8080:8080 -v omnigate-data:/data omnigate
#       (no config file: demo mode; the demo API key is printed once on stdout)
#   docker run --rm -p 8080:8080 -v omnigate-data:/data \
#       -v "$PWD/omnigate.toml:/etc/omnigate/omnigate.toml:ro" -e OMNIGATE_MASTER_KEY \
#       omnigate serve --config /etc/omnigate/omnigate.toml
#
# Keep BUN_VERSION equal to the `bun` devDependency in package.json: that is the Bun the tests ran on.

ARG BUN_VERSION=1.4.5

# ---- build: bundle src/ into dist/omnigate (code, migrations and Swagger UI assets embedded) ----
FROM oven/bun:${BUN_VERSION} AS build
WORKDIR /src
# Dependencies first, for the layer cache. bun reads package-lock.json; --frozen-lockfile fails if
# package.json has drifted from it. Only runtime dependencies are needed to bundle.
COPY package.json package-lock.json ./
RUN bun install --frozen-lockfile --production
COPY tsconfig.json ./
COPY scripts ./scripts
COPY migrations ./migrations
COPY src ./src
# Also refuses native modules in the bundle and smoke-tests the binary from an empty directory.
RUN bun run build

# ---- runtime ----
FROM debian:bookworm-slim
# ca-certificates for HTTPS to providers, curl for the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 omnigate \
    && useradd --system --uid 10001 --gid omnigate --home-dir /data --no-create-home --shell /usr/sbin/nologin omnigate \
    && mkdir -p /data \
    && chown omnigate:omnigate /data \
    && chmod 0700 /data
COPY --from=build --chmod=0755 /src/dist/omnigate /usr/local/bin/omnigate

# No OMNIGATE_* defaults here: the environment wins over a mounted config file, whose own
# [database] url and [server] listen must hold. From / the default file:./data/omnigate.db (and
# demo mode's data/master.key) is in the /data volume.
WORKDIR /
USER omnigate:omnigate
VOLUME /data
EXPOSE 8080
# /readyz answers 200 once the store is open and migrated.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/readyz || exit 1
# omnigate handles SIGTERM itself (graceful stop: in-flight requests and sends finish), so it can be PID 1.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/omnigate"]
# --listen only applies to the default command; `serve --config …` keeps the file's listen.
CMD ["serve", "--listen", "0.0.0.0:8080"]
