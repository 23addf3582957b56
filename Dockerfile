# Build: docker build --build-arg VERSION=v1.2.3 -t gatehouse .
# Run, with the root filesystem read-only and one writable volume for the
# SQLite database (its -wal and -shm files sit beside it) and temporary
# files; secrets come from files mounted read-only, which the config names
# with the *_file fields (cookie_secrets_file, secrets_file,
# client_secret_file, secret_file, password_hash_file, dsn_file, url_file,
# password_file), one secret per file, cookie secrets one per line:
#   docker run --read-only -p 9000:9000 -p 8000:8000 \
#     -v gatehouse-data:/var/lib/gatehouse \
#     -v $PWD/my-config.yaml:/etc/gatehouse/config.yaml:ro \
#     -v $PWD/secrets:/run/secrets/gatehouse:ro gatehouse
# where my-config.yaml says, e.g., cookie_secrets_file:
# /run/secrets/gatehouse/cookie-secrets. The health check runs
# `gatehouse healthcheck`, which asks each configured server's /healthz on
# its listen address; the image has no shell and no curl.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# build/static.sh is the one recipe (static, stripped); CI checks the
# binary it makes runs with no libc.
RUN sh build/static.sh /out/gatehouse "${VERSION}" && mkdir -p /out/data
# The image's default configuration is the quickstart, listening on all
# interfaces and keeping its database in the volume.
RUN sed -e 's#listen: 127.0.0.1:\(9000\|8000\)#listen: 0.0.0.0:\1#' \
        -e 's#path: gatehouse.db.*#path: /var/lib/gatehouse/gatehouse.db#' \
        config.example.yaml > /out/config.yaml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
COPY --from=build --chown=65532:65532 /out/data /var/lib/gatehouse
COPY --from=build /out/config.yaml /etc/gatehouse/config.yaml
USER 65532:65532
# Temporary files (SQLite's spills, large form uploads) go to the volume:
# with --read-only, /tmp cannot be written.
ENV TMPDIR=/var/lib/gatehouse
EXPOSE 8000 9000
VOLUME /var/lib/gatehouse
HEALTHCHECK CMD ["/usr/local/bin/gatehouse", "healthcheck", "--config", "/etc/gatehouse/config.yaml"]
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve", "--config", "/etc/gatehouse/config.yaml"]
