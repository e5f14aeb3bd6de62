#!/bin/sh
# Translations: re-extract the English msgids, merge them into each catalogue, compile.
#
#   scripts/i18n.sh            extract + update + compile (after adding or changing messages)
#   scripts/i18n.sh extract    only rebuild idp/translations/messages.pot
#   scripts/i18n.sh update     extract, then merge into every locale's messages.po
#   scripts/i18n.sh compile    only compile the .po files to the .mo files kept in the repo
#   scripts/i18n.sh check      fail if a catalogue or .mo is out of date (runs the tests)
#
# Then translate the new empty (or "#, fuzzy") entries in
# idp/translations/vi/LC_MESSAGES/messages.po, run `scripts/i18n.sh compile`, and commit
# the .pot, .po and .mo files together. English needs no msgstr: the msgids are English.
#
# PYBABEL / PYTHON override the tools (default: the project's .venv, else the PATH);
# LOCALES overrides the locale list (default: "vi en").
set -eu

cd "$(dirname "$0")/.."

if [ -z "${PYBABEL:-}" ]; then
    if [ -x .venv/bin/pybabel ]; then PYBABEL=.venv/bin/pybabel; else PYBABEL=pybabel; fi
fi
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
LOCALES="${LOCALES:-vi en}"
DIR=idp/translations
POT="$DIR/messages.pot"

extract() {
    # The keywords must match tests/test_translations.py (KEYWORDS) and babel.cfg's notes.
    # pybabel skips directories starting with "." or "_" (.venv, __pycache__).
    "$PYBABEL" extract -F babel.cfg -k _l -k lazy_gettext -c TRANSLATORS: \
        --project=idp --copyright-holder="idp contributors" -o "$POT" .
}

update() {
    for locale in $LOCALES; do
        if [ -f "$DIR/$locale/LC_MESSAGES/messages.po" ]; then
            "$PYBABEL" update -i "$POT" -d "$DIR" -l "$locale" --ignore-obsolete
        else
            "$PYBABEL" init -i "$POT" -d "$DIR" -l "$locale"
        fi
    done
}

compile() {
    "$PYBABEL" compile -d "$DIR" --statistics
}

case "${1:-all}" in
    extract) extract ;;
    update) extract; update ;;
    compile) compile ;;
    all) extract; update; compile ;;
    check) "$PYTHON" -m pytest -q tests/test_translations.py ;;
    *) echo "usage: $0 [all|extract|update|compile|check]" >&2; exit 2 ;;
esac
