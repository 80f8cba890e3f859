#!/bin/sh
set -e
DIR=/var/lib/dirstream-ldap
if [ ! -f "$DIR/slapd.d/cn=config.ldif" ]; then
  mkdir -p "$DIR/slapd.d" "$DIR/data" "$DIR/accesslog"
  slapadd -n0 -F "$DIR/slapd.d" -l /ldif/config.ldif
  for f in /ldif/base.ldif /ldif/sample.ldif; do
    slapadd -q -w -b dc=dirstream,dc=test -F "$DIR/slapd.d" -l "$f"
  done
fi
exec slapd -d 0 -F "$DIR/slapd.d" -h ldap://0.0.0.0:38389/
