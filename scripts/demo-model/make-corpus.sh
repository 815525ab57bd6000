#!/usr/bin/env bash
# Assembles the public-domain English text the demo model is pre-trained on: the King James
# Version of the Bible (1611; its copyright has long expired — see the package's copyright
# file), as shipped by Debian's bible-kjv-text package and printed by the `bible` program of
# the bible-kjv package (GPL-2+; only its output, the text, is used).
#
#   bash scripts/demo-model/make-corpus.sh OUT_DIR
#
# Writes OUT_DIR/kjv.txt: one verse per line without verse numbers, a blank line between
# chapters, and OUT_DIR/SOURCES with the exact package versions used. The packages are
# downloaded with apt (no root needed for `apt-get download`) and unpacked locally, not installed.
set -euo pipefail
out=${1:?usage: make-corpus.sh OUT_DIR}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download bible-kjv-text bible-kjv >/dev/null 2>&1) || {
  echo "error: apt-get download bible-kjv-text bible-kjv failed (run 'apt-get update' first?)" >&2
  exit 1
}
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
"$work/root/usr/bin/bible" -p "$work/root/usr/lib" "gen1:1-rev22:21" > "$work/raw.txt"
# The program prints "Book N" headings, then verses as "  V text" wrapped over several lines.
awk '
  blank && /^[0-9A-Z][A-Za-z ]* [0-9]+$/ { flush(); if (n++) print ""; blank = 0; next }  # "Book N" heading
  /^ +[0-9]+ / { flush(); sub(/^ +[0-9]+ /, ""); verse = $0; blank = 0; next }           # verse start
  /^$/ { blank = 1; next }
  { verse = verse " " $0; blank = 0 }                                                    # continuation
  function flush() { if (verse != "") print verse; verse = "" }
  BEGIN { blank = 1 }
  END { flush() }
' "$work/raw.txt" > "$out/kjv.txt"
{
  for deb in "$work"/*.deb; do dpkg-deb -f "$deb" Package Version | paste -sd' '; done
  echo "text: King James Version (1611), public domain; copyright file of bible-kjv-text:"
  sed 's/^/  /' "$work/root/usr/share/doc/bible-kjv-text/copyright"
} > "$out/SOURCES"
echo "wrote $out/kjv.txt: $(wc -l < "$out/kjv.txt") lines, $(wc -c < "$out/kjv.txt") bytes"
