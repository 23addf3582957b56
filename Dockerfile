# Build: docker build -t gatehouse .
# Run:   docker run -p 9000:9000 -p 8000:8000 -v gatehouse-data:/var/lib/gatehouse \
#          -v $PWD/my-config.yaml:/etc/gatehouse/config.yaml:ro gatehouse
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Pure Go (modernc.org/sqlite), so the binary is fully static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatehouse ./cmd/gatehouse \
 && mkdir -p /out/data
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
EXPOSE 8000 9000
VOLUME /var/lib/gatehouse
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve", "--config", "/etc/gatehouse/config.yaml"]
