#!/usr/bin/env bash
# End-to-end check of the stack's ECR-like registry, the way the project uses it:
# push the base image with skopeo and the ECR API stand-in's credential, read the
# manifest back, read the image config (a blob: ECR answers 307 to the S3 stand-in),
# and check from the blob host's log that the credential never reached it; then
# check that the registry refuses a wrong credential.
#
# Usage: stack/registry/selftest.sh   (after stack/stackctl up)
set -euo pipefail
# shellcheck source=stack/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../docker/lib.sh"

REGISTRY=127.0.0.1:5001
VENV="${FACILITATOR_OPS_VENV:-$FO_REPO_ROOT/.venv}"
MOTO_URL="${MOTO_URL:-http://127.0.0.1:5000}"
CERTS="$FO_STATE/tls/certs.d"
LOG="$FO_STATE/haproxy/haproxy.log"
REPO="selftest-$$"
REF="docker://$REGISTRY/$REPO:test"

# The auth file exists only as a pipe between this shell and skopeo (process substitution).
authfile() {
  MOTO_URL="$MOTO_URL" REGISTRY="$REGISTRY" "$VENV/bin/python" - <<'PY'
import base64, json, os, boto3
ecr = boto3.client("ecr", endpoint_url=os.environ["MOTO_URL"], region_name="us-east-2",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
print(json.dumps({"auths": {os.environ["REGISTRY"]: {"auth": token}}}))
PY
}

docker image inspect "$FO_BASE_IMAGE" >/dev/null 2>&1 || fo_die "$FO_BASE_IMAGE missing; run stack/stackctl up"
at=$(stat -c %s "$LOG")
t=$(fo_now)
skopeo copy --dest-cert-dir "$CERTS" --dest-authfile <(authfile) ${DOCKER_HOST:+--src-daemon-host "$DOCKER_HOST"} \
  "docker-daemon:$FO_BASE_IMAGE" "$REF" >/dev/null
fo_log "pushed $FO_BASE_IMAGE as $REF in $(fo_elapsed "$t")"
skopeo inspect --cert-dir "$CERTS" --authfile <(authfile) --no-tags --config "$REF" >/dev/null
sleep 1
blob_lines=$(tail -c +"$((at + 1))" "$LOG" | grep '"fe":"s3-blobs"' | grep -c "/v2/$REPO/blobs/" || true)
leaked=$(tail -c +"$((at + 1))" "$LOG" | grep '"fe":"s3-blobs"' | grep "/v2/$REPO/blobs/" | grep -vc '"auth":"0"' || true)
((blob_lines > 0)) || fo_die "the config blob was not served through the S3 stand-in (no 307?)"
((leaked == 0)) || fo_die "$leaked request(s) reached the blob host WITH an Authorization header"
fo_log "config read through the 307: $blob_lines blob request(s) at the S3 stand-in, none with Authorization"
if skopeo inspect --cert-dir "$CERTS" --creds AWS:wrong --no-tags "$REF" >/dev/null 2>&1; then
  fo_die "the registry accepted a wrong credential"
fi
fo_log "a wrong credential is refused; selftest passed"
