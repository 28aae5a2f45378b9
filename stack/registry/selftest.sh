#!/usr/bin/env bash
# End-to-end check of the local registry: tag the base image as <addr>/facilitator:test,
# push it, read the manifest digest back over the registry HTTP API, compare with what
# docker reported, then remove the test tag locally and its manifest from the registry.
#
# Usage: stack/registry/selftest.sh   (needs ensure-docker.sh, build-base-image.sh, start-registry.sh)
set -euo pipefail
# shellcheck source=stack/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../docker/lib.sh"

ADDR="${FACILITATOR_OPS_REGISTRY_ADDR:-127.0.0.1:5001}"
REPO=facilitator TAG=test
REF="$ADDR/$REPO:$TAG"
ACCEPT='application/vnd.docker.distribution.manifest.v2+json'

manifest_digest() {  # $1 = tag or digest; prints Docker-Content-Digest or nothing on 404
  curl -fsS -I --max-time 10 -H "Accept: $ACCEPT" "http://$ADDR/v2/$REPO/manifests/$1" 2>/dev/null |
    tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }'
}

docker image inspect "$FO_BASE_IMAGE" >/dev/null 2>&1 || fo_die "$FO_BASE_IMAGE missing; run stack/docker/build-base-image.sh"
curl -fsS -o /dev/null --max-time 5 "http://$ADDR/v2/" || fo_die "registry not answering on $ADDR; run stack/registry/start-registry.sh"

docker tag "$FO_BASE_IMAGE" "$REF"
trap 'docker rmi "$REF" >/dev/null 2>&1 || true' EXIT
t=$(fo_now)
push_out=$(docker push "$REF" 2>&1) || { echo "$push_out" >&2; fo_die "docker push $REF failed"; }
pushed=$(sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' <<<"$push_out" | tail -n1)
fo_log "pushed $REF in $(fo_elapsed "$t"): $pushed"

served=$(manifest_digest "$TAG")
[[ -n $served ]] || fo_die "GET /v2/$REPO/manifests/$TAG returned no Docker-Content-Digest"
ctype=$(curl -fsS --max-time 10 -H "Accept: $ACCEPT" "http://$ADDR/v2/$REPO/manifests/$TAG" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["mediaType"])')
fo_log "registry serves $REPO:$TAG as $served ($ctype)"
[[ $served == "$pushed" ]] || fo_die "digest mismatch: docker push said $pushed, registry serves $served"

# Cleanup. distribution 2.8 can only delete by digest, which removes every tag pointing at
# it, so refuse if another tag in the repo shares the digest.
tags=$(curl -fsS --max-time 10 "http://$ADDR/v2/$REPO/tags/list" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin).get("tags") or []))')
for other in $tags; do
  [[ $other == "$TAG" ]] && continue
  if [[ $(manifest_digest "$other") == "$served" ]]; then
    fo_log "tag $REPO:$other shares digest $served; leaving the registry manifest in place"
    exit 0
  fi
done
code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE --max-time 10 "http://$ADDR/v2/$REPO/manifests/$served")
[[ $code == 202 ]] || fo_die "DELETE manifest $served returned HTTP $code (is storage.delete enabled?)"
[[ -z $(manifest_digest "$TAG") ]] || fo_die "$REPO:$TAG still resolvable after DELETE"
fo_log "OK: digest round-trip matches; test tag removed (blobs stay until 'docker-registry garbage-collect')"
