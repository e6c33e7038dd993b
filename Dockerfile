# Multi-stage: build and install with `make install`, then ship only the installed files.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN make install PREFIX=/usr/local DESTDIR=/out

FROM debian:bookworm-slim
# gzip for compressed manifests in pipelines; b3sum for --prefer-external-b3.
RUN apt-get update && apt-get install -y --no-install-recommends gzip b3sum \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/local/ /usr/local/
ENTRYPOINT ["run-mirror"]
