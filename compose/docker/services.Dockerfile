# The three oot-hud services in one image; docker-compose.yml picks the binary per container.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p oot-ingest -p oot-projector -p oot-query -p oot-alerts \
    && cp target/release/oot-ingest target/release/oot-projector target/release/oot-query target/release/oot-alerts /usr/local/bin/
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libcurl4 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/oot-* /usr/local/bin/
