# SPDX-License-Identifier: MIT
# The minionize image: ENTRYPOINT minionize, run as a non-root user.
#
#   docker build -t minionize .
#   docker run --rm -e MINION_ENGINE=redis -e REDIS_URL=redis://queue:6379 \
#       minionize sh -c 'echo "$1"' sh {}
#
# Two stages: "build" compiles the source tree (autogen.sh, configure, make
# install into a staging folder); the runtime stage is debian:bookworm-slim,
# the programs and plugins, and only the shared libraries they link.
# `make check-image` builds it and runs a fleet of it (tests/image/).

ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
        build-essential autoconf automake libtool pkg-config \
        libevent-dev libhiredis-dev libcjson-dev libcurl4-openssl-dev \
        libwslay-dev libssl-dev \
        >/dev/null \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Extra configure flags, e.g. --disable-docker; the image builds everything.
ARG CONFIGURE_FLAGS=
RUN ./autogen.sh >/dev/null \
 && mkdir _build && cd _build \
 && ../configure -q --prefix=/usr/local $CONFIGURE_FLAGS \
 && make -s -j"$(nproc)" \
 && make -s install-strip DESTDIR=/staging \
 && cd /staging/usr/local \
 && rm -rf include lib/pkgconfig share \
 && find lib -name '*.la' -delete

FROM ${BASE}
ARG DEBIAN_FRONTEND=noninteractive
# The libraries /usr/local/bin/* and /usr/local/lib/minionize/*.so link
# (their NEEDED entries) beyond libc; make check-image checks with ldd that
# nothing is missing. ca-certificates for the HTTPS libcurl may speak.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
        libevent-2.1-7 libevent-pthreads-2.1-7 libevent-openssl-2.1-7 \
        libhiredis0.14 libcjson1 libcurl4 libwslay1 libssl3 ca-certificates \
        >/dev/null \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --create-home --home-dir /home/minion \
        --shell /usr/sbin/nologin minion
COPY --from=build /staging/ /
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /home/minion
ENTRYPOINT ["minionize"]
