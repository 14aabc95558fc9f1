# dynoxide, the DynamoDB-compatible server of the stack, built from crates.io.
FROM rust:1-bookworm AS build
RUN cargo install --locked dynoxide-rs@3.2.0 --no-default-features \
      --features native-sqlite,http-server,cli --root /out
FROM debian:bookworm-slim
COPY --from=build /out/bin/dynoxide /usr/local/bin/dynoxide
EXPOSE 8000
