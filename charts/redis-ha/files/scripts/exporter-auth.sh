#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Init container of the pods that run redis_exporter: writes the exporters' login to
# EXPORTER_AUTH_FILE on a memory-backed volume, so they read the password from a file
# (`--redis.password-file`, env REDIS_PASSWORD_FILE) and no password sits in an environment
# variable. redis_exporter reads that file once at start as a JSON object mapping each address it
# scrapes to its password; EXPORTER_ADDRS lists this pod's addresses, space-separated, exactly as
# the exporters' REDIS_ADDR spells them. The password is the exporter ACL user's with ACL users,
# else the default user's, as it is when the pod starts (like the probes' login, see lib.sh).
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${EXPORTER_AUTH_FILE:?EXPORTER_AUTH_FILE names the file to write}"
: "${EXPORTER_ADDRS:?EXPORTER_ADDRS lists the addresses the exporters scrape}"

login_as exporter
[ -n "${REDISCLI_AUTH:-}" ] || die "no password for the exporters (PASSWORD_FILE or ACL_DIR unset)"

# json_string VALUE: VALUE as a JSON string (the Secret's passwords have no control characters:
# a newline ends a password, see acl_password).
json_string() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

umask 077
{
  printf '{'
  _sep=''
  for _addr in $EXPORTER_ADDRS; do
    printf '%s%s: %s' "$_sep" "$(json_string "$_addr")" "$(json_string "$REDISCLI_AUTH")"
    _sep=', '
  done
  printf '}\n'
} >"$EXPORTER_AUTH_FILE.tmp"
mv "$EXPORTER_AUTH_FILE.tmp" "$EXPORTER_AUTH_FILE"
log "wrote the exporters' login for $EXPORTER_ADDRS"
