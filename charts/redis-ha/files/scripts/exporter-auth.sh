#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Init container of the pods that run redis_exporter: writes the exporters' login to
# EXPORTER_AUTH_FILE on a memory-backed volume, so they read the password from a file
# (`--redis.password-file`, env REDIS_PASSWORD_FILE) and no password sits in an environment
# variable. redis_exporter reads that file once at start as a JSON object mapping each address it
# scrapes to its password; EXPORTER_ADDRS lists this pod's addresses, space-separated, exactly as
# the exporters' REDIS_ADDR spells them. The password is the exporter ACL user's with ACL users,
# else the default user's, as it is when the pod starts (like the probes' login, see lib.sh).
# With a user (REDIS_USER) redis_exporter 1.69 looks the password up under the address with the
# user in it, scheme://user@host:port, and 1.45 under the plain address: the file has both keys
# then (ACL user names need no escaping: values.schema.json allows only letters, digits, '_', '.'
# and '-').
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
    _keys=$_addr
    [ -z "${CLI_USER:-}" ] || _keys="$(printf '%s' "$_addr" | sed "s#://#://$CLI_USER@#") $_addr"
    for _key in $_keys; do
      printf '%s%s: %s' "$_sep" "$(json_string "$_key")" "$(json_string "$REDISCLI_AUTH")"
      _sep=', '
    done
  done
  printf '}\n'
} >"$EXPORTER_AUTH_FILE.tmp"
mv "$EXPORTER_AUTH_FILE.tmp" "$EXPORTER_AUTH_FILE"
log "wrote the exporters' login for $EXPORTER_ADDRS"
