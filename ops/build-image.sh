#!/usr/bin/env bash
# Build the one Proveo image with podman.
#
#   ops/build-image.sh                         # base from a registry, tag localhost/proveo:dev
#   ops/build-image.sh --pull=never            # use only images already in local storage
#   ops/build-image.sh --offline               # no network during the build (see below)
#   ops/build-image.sh --tag registry.example/proveo:0.1.0
#
# --offline: the build itself runs with --network none and --pull=never.
#   1. the base is localhost/debian-python:bookworm, created when missing with
#      `debootstrap --variant=minbase` (python3, python3-venv, python3-pip,
#      ca-certificates) and `tar | podman import`; needs root and debootstrap, and a Debian
#      mirror (DEBIAN_MIRROR, default: the first one configured for apt);
#   2. wheels for the project and every dependency are built on the host into
#      build/wheelhouse (skip with --skip-wheels when they are already there) by $PYTHON
#      (default /usr/bin/python3, i.e. Debian 12's), which must be exactly the base's
#      Python version: dependency markers such as python_full_version < "3.11.3" differ;
#   3. the Containerfile installs with pip --no-index from the wheelhouse.
#
# --runc: for hosts where crun fails (cgroups v1/hybrid, restricted setrlimit): writes a
#   containers.conf selecting runc with low default ulimits and exports CONTAINERS_CONF
#   (unless already set). Needs `apt-get install runc`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TAG=localhost/proveo:dev
BASE=""
PULL=""
OFFLINE=0
SKIP_WHEELS=0
USE_RUNC=0
DEBIAN_BASE=localhost/debian-python:bookworm

usage() { sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        -t|--tag) TAG=$2; shift 2 ;;
        --tag=*) TAG=${1#*=}; shift ;;
        --base) BASE=$2; shift 2 ;;
        --base=*) BASE=${1#*=}; shift ;;
        --pull=*) PULL=${1#*=}; shift ;;
        --offline) OFFLINE=1; shift ;;
        --skip-wheels) SKIP_WHEELS=1; shift ;;
        --runc) USE_RUNC=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-image: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

if [ "$USE_RUNC" = 1 ] && [ -z "${CONTAINERS_CONF:-}" ]; then
    conf_dir=$(mktemp -d)
    cat > "$conf_dir/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
[engine]
runtime = "runc"
CONF
    export CONTAINERS_CONF="$conf_dir/containers.conf"
    echo "build-image: CONTAINERS_CONF=$CONTAINERS_CONF" >&2
fi

debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
    # The first Debian archive apt is configured with (deb822 or one-line format).
    grep -hoE '^(URIs:[[:space:]]*|deb[[:space:]]+)[^[:space:]]+/debian/?([[:space:]]|$)' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | head -n1 | awk '{print $NF}' || true
}

make_debian_base() {
    if podman image exists "$DEBIAN_BASE"; then return; fi
    command -v debootstrap >/dev/null || { echo "build-image: needs debootstrap" >&2; exit 1; }
    local mirror rootfs
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || { echo "build-image: set DEBIAN_MIRROR" >&2; exit 1; }
    rootfs=$(mktemp -d)
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        bookworm "$rootfs" "$mirror"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import --change 'CMD ["python3"]' - "$DEBIAN_BASE"
    rm -rf "$rootfs"
}

cd "$ROOT"
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/proveo/__init__.py)
SOURCE=$(git config --get remote.origin.url 2>/dev/null || echo https://example.invalid/proveo)
args=(build --format docker --file Containerfile --tag "$TAG"
      --build-arg "VERSION=$VERSION" --build-arg "SOURCE=$SOURCE")

if [ "$OFFLINE" = 1 ]; then
    [ -n "$BASE" ] || { make_debian_base; BASE=$DEBIAN_BASE; }
    if [ "$SKIP_WHEELS" = 0 ]; then
        # Environment markers (e.g. python_full_version < "3.11.3") are evaluated by the
        # Python that resolves, so it must be the base's exact version.
        PYTHON=${PYTHON:-/usr/bin/python3}
        want=$(podman run --rm --pull=never --network none --entrypoint python3 "$BASE" \
            -c 'import platform; print(platform.python_version())')
        have=$("$PYTHON" -c 'import platform; print(platform.python_version())')
        if [ "$want" != "$have" ]; then
            echo "build-image: $BASE has Python $want but $PYTHON is $have;" \
                 "set PYTHON to a $want interpreter with pip" >&2
            exit 1
        fi
        rm -rf build/wheelhouse
        "$PYTHON" -m pip wheel --wheel-dir build/wheelhouse . "setuptools>=69" wheel
    fi
    args+=(--network none --build-arg OFFLINE=1)
    PULL=${PULL:-never}
fi
[ -n "$BASE" ] && args+=(--build-arg "BASE=$BASE")
[ -n "$PULL" ] && args+=("--pull=$PULL")

podman "${args[@]}" .
echo "build-image: built $TAG (version $VERSION)" >&2
