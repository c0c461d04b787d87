#!/bin/sh
# Install Debian's Mueller English-Russian dictionary (mueller7-dict, GPL-2+), read at run time
# from /usr/share/dictd. Optional: without it, cross-language lookup uses the glossary, name keys
# and embeddings. Never fails the set-up.
[ -r /usr/share/dictd/mueller7.index ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    if $SUDO apt-get update -qq >/dev/null 2>&1 &&
       DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mueller7-dict >/dev/null 2>&1; then
        exit 0
    fi
fi
echo "note: mueller7-dict is not installed; cross-language lookup will use the glossary, names and embeddings" >&2
exit 0
