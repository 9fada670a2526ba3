#!/bin/sh
# A self-signed certificate for docker-compose's nginx (survey.localhost and its tenant subdomains).
set -eu
dir="$(dirname "$0")/tls"
mkdir -p "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=survey.localhost \
  -addext "subjectAltName=DNS:survey.localhost,DNS:*.survey.localhost" \
  -keyout "$dir/tls.key" -out "$dir/tls.crt"
