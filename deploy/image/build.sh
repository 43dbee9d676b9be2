#!/usr/bin/env bash
# Builds xiaoer's production image (`make image`): deploy/Dockerfile on a Python 3.11 Debian base.
#
# Where images can be pulled, set PYTHON_IMAGE=python:3.11-slim-bookworm and this is a plain
# `docker build`. Where nothing can be pulled, the base is made here from Debian's own packages:
# debootstrap (minbase, bookworm, with python3, python3-venv and ca-certificates), this machine's
# apt sources and local CA certificates copied in, imported with `docker import` and tagged
# $BASE_IMAGE. The compose stand-ins (deploy/compose/) start from the same base.
#
#   deploy/image/build.sh          the base (once), then the image $IMAGE
#   deploy/image/build.sh base     the base only
#
# The build context is the working tree's files git knows (tracked, and untracked but not
# ignored), so .venv, var/ and node_modules never reach the daemon; GIT_REF=HEAD (or any commit)
# builds that commit instead, whatever the working tree holds. Needs root for debootstrap;
# DOCKER_HOST is honoured.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${IMAGE:-xiaoer:latest}
BASE_IMAGE=${BASE_IMAGE:-xiaoer-base/python:3.11-bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export DOCKER_BUILDKIT=0  # the classic builder: it runs with --network host and needs no buildx

base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "base image $BASE_IMAGE: present"
    return
  fi
  local root
  root=$(mktemp -d)
  chmod 755 "$root"  # it becomes the image's /, which the unprivileged user must traverse
  trap 'rm -rf "$root"' RETURN
  echo "base image $BASE_IMAGE: debootstrap bookworm from $DEBIAN_MIRROR"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" "$DEBIAN_MIRROR" >"$root.log" 2>&1 || { tail -20 "$root.log"; exit 1; }
  rm -f "$root.log"
  # The machine's apt sources (so stand-ins can apt-get install) and its local CAs (so pip and apt
  # reach their registries through whatever the machine trusts).
  cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
  [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null
  fi
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
  tar -C "$root" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
  echo "base image $BASE_IMAGE: $(docker image inspect -f '{{.Size}}' "$BASE_IMAGE") bytes"
}

context() {
  if [ -n "${GIT_REF:-}" ]; then
    git archive --format=tar "$GIT_REF"
  else
    git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -c
  fi
}

image() {
  local started=$SECONDS
  context | docker build --network host -f deploy/Dockerfile --build-arg "PYTHON_IMAGE=${PYTHON_IMAGE:-$BASE_IMAGE}" \
    -t "$IMAGE" -
  echo "image $IMAGE: $(docker image inspect -f '{{.Size}}' "$IMAGE") bytes, built in $((SECONDS - started)) s"
}

case "${1:-all}" in
  base) base ;;
  all)
    [ -n "${PYTHON_IMAGE:-}" ] || base
    image
    ;;
  *) echo "usage: $0 [base]" >&2; exit 2 ;;
esac
