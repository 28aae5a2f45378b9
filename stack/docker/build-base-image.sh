#!/usr/bin/env bash
# Build the local base image facilitator-ops/base:bookworm without pulling from any
# registry: debootstrap a Debian bookworm rootfs, cache it as a tarball, `docker import` it.
#
# Usage: stack/docker/build-base-image.sh [--force] [--rebuild-rootfs]
#   (no flag)         skip entirely if the image exists; else import the cached tarball
#                     (debootstrap only if the tarball is missing)
#   --force           re-import even if the image exists (reuses the cached tarball)
#   --rebuild-rootfs  debootstrap again (refresh packages), then import
# Env: FACILITATOR_OPS_BASE_IMAGE (default facilitator-ops/base:bookworm),
#      DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR (default: read from /etc/apt/sources*),
#      XDG_CACHE_HOME (tarball cache: ${XDG_CACHE_HOME:-$HOME/.cache}/facilitator-ops/).
set -euo pipefail
# shellcheck source=stack/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

force=0 rebuild_rootfs=0
for arg in "$@"; do
  case $arg in
    --force) force=1 ;;
    --rebuild-rootfs) force=1 rebuild_rootfs=1 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) fo_die "unknown argument: $arg" ;;
  esac
done

SUITE=bookworm
VARIANT=minbase
# curl: container health checks; python3-venv: apps install into a venv (which brings
# its own pip via ensurepip), so the PEP 668 system pip (python3-pip) is not needed.
INCLUDE=ca-certificates,curl,python3,python3-venv
# Bump when the customisation below changes, so the cached tarball is not reused.
RECIPE_VERSION=1

docker info >/dev/null 2>&1 || fo_die "docker daemon not reachable; run stack/docker/ensure-docker.sh first"

if [[ $force == 0 ]] && docker image inspect "$FO_BASE_IMAGE" >/dev/null 2>&1; then
  fo_log "$FO_BASE_IMAGE already exists ($(docker image inspect -f '{{.Id}}' "$FO_BASE_IMAGE" | cut -c1-19)), nothing to do"
  exit 0
fi

t_total=$(fo_now)
mkdir -p "$FO_CACHE"
# Serialise concurrent builds: they would share the same tarball and tmp space.
exec 9>"$FO_CACHE/.build.lock"
flock -w 1800 9 || fo_die "timed out waiting for $FO_CACHE/.build.lock"

# --- Find the Debian mirrors the host apt uses (deb822 *.sources and one-line *.list) ---
# Prints the first URI whose suite list contains exactly $1.
apt_uri_for_suite() {
  local suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e $f ]] || continue
    awk -v want="$suite" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " want " ") && uri != "") { print uri; found = 1; exit }
        types = suites = uri = enabled = ""
      }
      /^[[:space:]]*$/ { flush(); next }
      /^#/ { next }
      tolower($1) == "types:"   { $1 = ""; types = $0 }
      tolower($1) == "suites:"  { $1 = ""; suites = $0 }
      tolower($1) == "uris:"    { uri = $2 }
      tolower($1) == "enabled:" { enabled = tolower($2) }
      END { if (!found) flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -e $f ]] || continue
    # deb [opts] URI SUITE COMPONENTS...
    sed -E -n 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+([^[:space:]]+).*/\2 \3/p' "$f" |
      awk -v want="$suite" '$2 == want { print $1 }'
  done
}

build_rootfs() {
  local tarball=$1 mirror security_mirror work root t
  mirror=${DEBIAN_MIRROR:-$(apt_uri_for_suite "$SUITE" | head -n1)}
  security_mirror=${DEBIAN_SECURITY_MIRROR:-$(apt_uri_for_suite "$SUITE-security" | head -n1)}
  [[ -n $mirror ]] || fo_die "no apt source for suite '$SUITE' found in /etc/apt; set DEBIAN_MIRROR"
  command -v debootstrap >/dev/null || {
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
  }
  fo_log "mirror: $mirror  security: ${security_mirror:-<none>}"
  env | grep -i '_proxy=' | sed 's/=.*/=(set)/' | while read -r l; do fo_log "proxy env: $l"; done || true

  work=$(mktemp -d "$FO_CACHE/build.XXXXXX")
  root=$work/rootfs
  # Always unmount before deleting: rm -rf through a bind-mounted /dev would be fatal.
  # shellcheck disable=SC2064
  trap "umount -l '$root/proc' 2>/dev/null || true; umount -l '$root/dev' 2>/dev/null || true; rm -rf '$work'" EXIT

  t=$(fo_now)
  mkdir -p "$FO_CACHE/debs"
  # --cache-dir keeps the downloaded .debs so a --rebuild-rootfs mostly re-uses them.
  debootstrap --variant="$VARIANT" --include="$INCLUDE" --components=main \
    --cache-dir="$FO_CACHE/debs" "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    fo_die "debootstrap failed"
  }
  fo_log "debootstrap: $(fo_elapsed "$t")"

  t=$(fo_now)
  # apt sources inside the image mirror the host's (main + updates + security).
  rm -f "$root/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" "$SUITE" "$SUITE"
    if [[ -n $security_mirror ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security_mirror" "$SUITE"
    fi
  } >"$root/etc/apt/sources.list.d/debian.sources"
  # Container-friendly apt defaults (like the official debian images): no recommends,
  # no translations, auto-clean the .deb cache after installs.
  cat >"$root/etc/apt/apt.conf.d/90facilitator-ops" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  # Trust the same CAs as the host: HTTPS here goes through a proxy with its own CA.
  # Extra host CAs go to /usr/local/share/ca-certificates so a later
  # update-ca-certificates inside the image keeps them.
  python3 - "$root" <<'EOF'
import re, sys
root = sys.argv[1]
pem = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
norm = lambda c: "".join(c.split())
image = {norm(c) for c in pem.findall(open(f"{root}/etc/ssl/certs/ca-certificates.crt").read())}
extra = [c for c in pem.findall(open("/etc/ssl/certs/ca-certificates.crt").read()) if norm(c) not in image]
for i, c in enumerate(extra):
    with open(f"{root}/usr/local/share/ca-certificates/host-ca-{i}.crt", "w") as f:
        f.write(c + "\n")
print(f"[build-base-image.sh] host CAs added (not in Debian bundle): {len(extra)}", file=sys.stderr)
EOF
  # Pick up bookworm-updates/-security fixes; policy-rc.d stops services starting in the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod +x "$root/usr/sbin/policy-rc.d"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} \
    sh -euc 'apt-get update -q && apt-get -y -q -o Dpkg::Options::=--force-confold dist-upgrade && update-ca-certificates' \
    >"$work/upgrade.log" 2>&1 || { tail -n 30 "$work/upgrade.log" >&2; fo_die "apt upgrade in chroot failed"; }
  umount -l "$root/dev"
  umount "$root/proc"
  rm -f "$root/usr/sbin/policy-rc.d"
  # Exactly the host bundle (superset of Debian's after update-ca-certificates above).
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  # Strip caches/logs and host-specific files (docker provides resolv.conf/hostname/hosts).
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/var/lib/dpkg/*-old "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/* "$root"/root/.cache \
    "$root/debootstrap"
  : >"$root/etc/resolv.conf"
  rm -f "$root/etc/hostname"
  fo_log "customise + apt upgrade: $(fo_elapsed "$t")"

  t=$(fo_now)
  tar --numeric-owner --one-file-system --xattrs --xattrs-include='security.capability' \
    -C "$root" -cf - . | gzip -1 >"$work/rootfs.tar.gz"
  mv "$work/rootfs.tar.gz" "$tarball"   # atomic: never leave a half-written cache entry
  fo_log "tarball $(du -h "$tarball" | cut -f1): $(fo_elapsed "$t")"
  rm -rf "$work"
  trap - EXIT
}

key=$(printf '%s|%s|%s|%s' "$SUITE" "$VARIANT" "$INCLUDE" "$RECIPE_VERSION" | sha256sum | cut -c1-12)
tarball="$FO_CACHE/base-$SUITE-$key.tar.gz"

if [[ $rebuild_rootfs == 1 || ! -s $tarball ]]; then
  build_rootfs "$tarball"
else
  fo_log "using cached rootfs $tarball"
fi

t=$(fo_now)
docker import \
  --message "debootstrap $SUITE $VARIANT +$INCLUDE (facilitator-ops recipe $RECIPE_VERSION)" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  "$tarball" "$FO_BASE_IMAGE" >/dev/null
fo_log "docker import: $(fo_elapsed "$t")"

# Smoke test: the tools health checks and app builds rely on are present.
docker run --rm --network host "$FO_BASE_IMAGE" sh -c 'python3 --version && python3 -m venv --help >/dev/null && curl --version | head -n1' |
  while read -r l; do fo_log "image: $l"; done
fo_log "built $FO_BASE_IMAGE ($(docker image inspect -f '{{.Size}}' "$FO_BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')) in $(fo_elapsed "$t_total")"
