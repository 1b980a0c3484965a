#!/bin/sh
# A second public-domain English text for `charrnn-tui eval`: the four Gospels of the King
# James Bible (1611; ~436k characters), one verse per line without its reference, from
# Debian's bible-kjv packages (any Debian or Ubuntu mirror; no root needed).
#
#     sh bench/kjv.sh /tmp/kjv-gospels.txt
set -eu
out=${1:?usage: sh bench/kjv.sh OUT.txt}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download bible-kjv bible-kjv-text >/dev/null
for deb in ./*.deb; do dpkg-deb -x "$deb" root; done
root/usr/bin/bible -f -p root/usr/lib "Mt1:1-Joh21:25" \
    | sed -E 's/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ //' > "$out"
wc -c "$out"
