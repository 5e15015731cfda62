#!/usr/bin/env bash
# Install fieldkit from this kit into a new virtual environment, with no network at all.
# Usage: ./install.sh VENV [--pubkey KEY.pub] [--base OLD_KIT]
# Every file is checked against MANIFEST before anything is installed; any mismatch names the
# file, exits non-zero and installs nothing. Models go to $FIELDKIT_HOME (default ~/.local/share/fieldkit).
set -euo pipefail
umask 022
die() {
    echo "install.sh: error: $1" >&2
    if [ -n "${2:-}" ]; then echo "install.sh: hint: $2" >&2; fi
    exit 2
}
CREATED=0 MERGED=""
cleanup() {
    if [ -n "$MERGED" ]; then rm -rf "$MERGED"; fi
    if [ "$CREATED" = 1 ]; then rm -rf "$VENV"; echo "install.sh: nothing was installed" >&2; fi
}
trap cleanup EXIT
KIT="$(cd "$(dirname "$0")" && pwd -P)"
KIT_PYTHON="@PYTHON@"
VENV="" PUBKEY="" BASE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --pubkey) [ $# -ge 2 ] || die "--pubkey needs a file"; PUBKEY="$2"; shift 2 ;;
        --base) [ $# -ge 2 ] || die "--base needs a folder"; BASE="$2"; shift 2 ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        -*) die "unknown option $1" "usage: install.sh VENV [--pubkey KEY.pub] [--base OLD_KIT]" ;;
        *) [ -z "$VENV" ] || die "give one VENV folder" "usage: install.sh VENV [--pubkey KEY.pub]"
           VENV="$1"; shift ;;
    esac
done
[ -n "$VENV" ] || die "which folder for the virtual environment?" "usage: install.sh VENV [--pubkey KEY.pub]"
if [ -e "$VENV" ] && [ -n "$(ls -A "$VENV" 2>/dev/null)" ]; then
    die "$VENV exists and is not empty" "give a new folder; an existing one is never touched"
fi

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# check_kit DIR: every MANIFEST line matches its file, nothing unlisted, no symlinks.
check_kit() {
    local dir="$1" line sha rest size rel f got listed
    [ -f "$dir/MANIFEST" ] && [ ! -L "$dir/MANIFEST" ] || die "$dir has no MANIFEST" "copy the whole kit folder"
    [ "$(head -n 1 "$dir/MANIFEST")" = "# fieldkit kit manifest 1" ] || die "$dir/MANIFEST is not a kit manifest"
    if [ -n "$(find "$dir" -type l -print -quit)" ]; then
        die "the kit holds a symlink: $(find "$dir" -type l -print -quit)" "a kit holds plain files only"
    fi
    listed="$(mktemp)"
    while IFS= read -r line; do
        case "$line" in '#'*) continue ;; esac
        sha="${line%%  *}"; rest="${line#*  }"; size="${rest%%  *}"; rel="${rest#*  }"
        [[ "$sha" =~ ^[0-9a-f]{64}$ && "$size" =~ ^[0-9]+$ ]] || { rm -f "$listed"; die "malformed MANIFEST line: $line"; }
        [[ "$rel" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*(/[A-Za-z0-9][A-Za-z0-9._+-]*)*$ ]] || { rm -f "$listed"; die "unsafe path in MANIFEST: $rel"; }
        f="$dir/$rel"
        [ -f "$f" ] || { rm -f "$listed"; die "$rel is missing" "copy the whole kit folder again"; }
        [ "$(wc -c < "$f" | tr -d ' ')" = "$size" ] || { rm -f "$listed"; die "$rel has the wrong size" "the file was damaged; copy the kit again"; }
        got="$(sha256 "$f")"
        [ "$got" = "$sha" ] || { rm -f "$listed"; die "$rel does not match its sha256 in MANIFEST" "the file was damaged or altered; copy the kit again"; }
        printf '%s\n' "$rel" >> "$listed"
    done < "$dir/MANIFEST"
    printf '%s\n' MANIFEST MANIFEST.sig >> "$listed"
    while IFS= read -r f; do
        rel="${f#"$dir"/}"
        grep -qxF -- "$rel" "$listed" || { rm -f "$listed"; die "$rel is in the kit but not in MANIFEST" "the kit was altered; get it again"; }
    done < <(find "$dir" -type f)
    rm -f "$listed"
}

echo "checking every file of the kit against MANIFEST ..."
check_kit "$KIT"
FIND_LINKS=(--find-links "$KIT/wheels")
BASE_SHA="$(sed -n 's/^# base //p' "$KIT/MANIFEST")"
if [ -n "$BASE_SHA" ]; then
    [ -n "$BASE" ] || die "this is an update kit; it needs the kit it updates" "run install.sh VENV --base OLD_KIT_FOLDER"
    BASE="$(cd "$BASE" && pwd -P)"
    [ "$(sha256 "$BASE/MANIFEST")" = "$BASE_SHA" ] || die "$BASE is not the kit this update was built on"
    check_kit "$BASE"
    # one folder of wheels: the base kit's, overlaid by this kit's (same names: the newer file wins)
    MERGED="$(mktemp -d)"
    cp "$BASE"/wheels/*.whl "$MERGED"/ 2>/dev/null || true
    cp "$KIT"/wheels/*.whl "$MERGED"/ 2>/dev/null || true
    FIND_LINKS=(--find-links "$MERGED")
fi

SIG_LATER=0
if [ -n "$PUBKEY" ]; then
    [ -f "$KIT/MANIFEST.sig" ] || die "the kit has no MANIFEST.sig" "ask for a signed kit (kit build --sign-key)"
    if command -v openssl >/dev/null 2>&1; then
        openssl pkeyutl -verify -pubin -inkey "$PUBKEY" -rawin -in "$KIT/MANIFEST" -sigfile "$KIT/MANIFEST.sig" >/dev/null 2>&1 \
            || die "the signature of MANIFEST does not verify with $PUBKEY" "do not install this kit; get it again from its source"
        echo "signature: good ($PUBKEY)"
    else
        SIG_LATER=1
    fi
fi

PY="${PYTHON:-python3}"
"$PY" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$KIT_PYTHON' else 1)" 2>/dev/null \
    || die "this kit is for Python $KIT_PYTHON; $PY is not" "set PYTHON=/path/to/python$KIT_PYTHON"

mkdir -p "$VENV"; CREATED=1
echo "creating $VENV ..."
"$PY" -m venv "$VENV"
echo "installing the wheels (no network, hash-checked) ..."
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-index "${FIND_LINKS[@]}" \
    --require-hashes -r "$KIT/requirements.txt" -q
if [ "$SIG_LATER" = 1 ]; then
    "$VENV/bin/fieldkit" kit verify "$KIT" --pubkey "$PUBKEY" || exit 2
fi
for pack in "$KIT"/models/*/; do
    [ -d "$pack" ] || continue
    echo "installing model $(basename "$pack") ..."
    "$VENV/bin/fieldkit" models install "$pack"
done
CREATED=0
echo "done: run $VENV/bin/fieldkit (models in ${FIELDKIT_HOME:-~/.local/share/fieldkit})"
