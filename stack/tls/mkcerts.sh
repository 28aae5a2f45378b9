#!/usr/bin/env bash
# The local stack's certificate authority and server certificate.
#
#   $STATE/ca.pem            the CA certificate every client trusts (facilitator_ca_bundle)
#   $STATE/tls/ca.key        its key (0600, never leaves the state dir)
#   $STATE/tls/server.pem    server certificate + key for HAProxy (ALB stand-ins, edge,
#                            ECR-like registry, blob host); SAN: 127.0.0.1, localhost and the
#                            facilitator's public name
#   $STATE/tls/certs.d/ca.crt  the CA again, as a --cert-dir for skopeo
#
# Idempotent: an existing CA is reused (clients keep trusting it across `up`); the
# server certificate is re-issued only when it is missing, not signed by this CA,
# lacks a SAN, or expires within a day.
# Usage: stack/tls/mkcerts.sh      Env: FACILITATOR_OPS_STATE, FACILITATOR_OPS_PUBLIC_NAME
set -euo pipefail
# shellcheck source=stack/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../docker/lib.sh"

PUBLIC_NAME="${FACILITATOR_OPS_PUBLIC_NAME:-facilitator.ultravioletadao.xyz}"
TLS="$FO_STATE/tls"
CA="$FO_STATE/ca.pem"
SANS="DNS:localhost,DNS:$PUBLIC_NAME,IP:127.0.0.1"
mkdir -p "$TLS/certs.d"
chmod 700 "$TLS"
umask 077

if [[ ! -s $CA || ! -s $TLS/ca.key ]]; then
  fo_log "creating the stack CA ($CA)"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout "$TLS/ca.key" -out "$CA" \
    -subj "/CN=facilitator-ops local stack CA $(hostname)-$(date +%s)" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  rm -f "$TLS/server.pem"
fi
chmod 644 "$CA"
cp "$CA" "$TLS/certs.d/ca.crt"
chmod 755 "$TLS/certs.d"; chmod 644 "$TLS/certs.d/ca.crt"

server_ok() {
  [[ -s $TLS/server.pem ]] || return 1
  openssl verify -CAfile "$CA" "$TLS/server.pem" >/dev/null 2>&1 || return 1
  openssl x509 -in "$TLS/server.pem" -noout -checkend 86400 >/dev/null || return 1
  local san
  san=$(openssl x509 -in "$TLS/server.pem" -noout -ext subjectAltName 2>/dev/null | tr -d ' \n')
  [[ $san == *"DNS:$PUBLIC_NAME"* && $san == *"IPAddress:127.0.0.1"* && $san == *"DNS:localhost"* ]]
}

if ! server_ok; then
  fo_log "issuing the server certificate ($SANS)"
  openssl req -newkey rsa:2048 -nodes -keyout "$TLS/server.key" -out "$TLS/server.csr" -subj "/CN=$PUBLIC_NAME" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$SANS" >"$TLS/server.ext"
  openssl x509 -req -sha256 -in "$TLS/server.csr" -CA "$CA" -CAkey "$TLS/ca.key" -CAserial "$TLS/ca.srl" -CAcreateserial \
    -out "$TLS/server.crt" -days 365 -extfile "$TLS/server.ext" 2>/dev/null
  cat "$TLS/server.crt" "$TLS/server.key" >"$TLS/server.pem"
  rm -f "$TLS/server.csr" "$TLS/server.key"
fi
fo_log "CA $CA; server certificate $TLS/server.pem ($SANS)"
