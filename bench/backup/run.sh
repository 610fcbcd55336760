#!/usr/bin/env bash
# Backup benchmark: nightshift against restic, borg and `tar | zstd -3 | age` on the same data.
#
#   bench/backup/run.sh [TOOLS]      TOOLS: comma list of nightshift,restic,borg,tar (default: all)
#
# The dataset (~1 GiB, 30k files; ../shared/bench/gen_dataset.py) is generated once and cached
# under bench/out/backup/dataset-v1. Each run copies it, then measures with /usr/bin/time -v:
#   first     backup of v1 into an empty repository (and the repository size after it)
#   incr      backup after `gen_dataset.py mutate` turned the copy into v2 in place (and the growth)
#   nochange  backup of the unchanged v2 again
#   restore   restore of the latest snapshot into an empty directory (verified byte-exact with diff -r)
#   check     check --read-data (borg: check --verify-data; tar: decrypt + zstd -t)
# and prints each figure as a ratio to restic (wall time, CPU time and peak RSS per phase). Results also go to bench/out/backup/results.json.
# Needs: restic, borg (borgbackup), age, zstd, python3, GNU time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out/backup}
GEN=${GEN_DATASET:-$ROOT/../shared/bench/gen_dataset.py}
TOOLS=${1:-nightshift,restic,borg,tar}
WORK=$OUT/work
RES=$OUT/results.tsv
PASS=bench-password-not-secret

mkdir -p "$OUT"
for bin in restic borg age age-keygen zstd python3 /usr/bin/time; do
  command -v "$bin" >/dev/null || { echo "missing $bin (apt-get install restic borgbackup age zstd time)" >&2; exit 2; }
done

if [ ! -d "$OUT/dataset-v1" ]; then
  echo "generating dataset (once) ..." >&2
  rm -rf "$OUT/dataset-v1.tmp"
  python3 "$GEN" gen "$OUT/dataset-v1.tmp" >&2
  mv "$OUT/dataset-v1.tmp" "$OUT/dataset-v1"
fi

rm -rf "$WORK"
mkdir -p "$WORK"
cp -a "$OUT/dataset-v1" "$WORK/data"
: >"$RES"

export RESTIC_PASSWORD=$PASS RESTIC_CACHE_DIR=$WORK/cache/restic
export BORG_PASSPHRASE=$PASS BORG_BASE_DIR=$WORK/cache/borg BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export NIGHTSHIFT_PASSWORD=$PASS
age-keygen -o "$WORK/age.key" 2>/dev/null
AGE_RCPT=$(age-keygen -y "$WORK/age.key")
NS="$ROOT/bin/nightshift --home $WORK/ns-home"

has() { [[ ",$TOOLS," == *",$1,"* ]]; }

# measure TOOL PHASE CMD...: runs CMD in $WORK under /usr/bin/time -v, records seconds and peak RSS (KiB).
measure() {
  local tool=$1 phase=$2
  shift 2
  sync
  (cd "$WORK" && /usr/bin/time -v -o "$WORK/time.txt" "$@" >"$WORK/$tool-$phase.out" 2>"$WORK/$tool-$phase.err") || {
    echo "$tool $phase failed:" >&2
    tail -20 "$WORK/$tool-$phase.err" >&2
    exit 1
  }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt" |
    awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  # CPU seconds (user + system) are steadier than wall time on a shared, loaded machine.
  cpu=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ {s += $2} END {print s}' "$WORK/time.txt")
  printf '%s\t%s\tseconds\t%s\n%s\t%s\trss_kib\t%s\n%s\t%s\tcpu_seconds\t%s\n' \
    "$tool" "$phase" "$wall" "$tool" "$phase" "$rss" "$tool" "$phase" "$cpu" >>"$RES"
  echo "  $tool $phase: ${wall}s wall, ${cpu}s CPU, peak RSS $((rss / 1024)) MiB" >&2
}

size() { du -sb "$1" | cut -f1; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"; }

backup_cmd() {
  case $1 in
    nightshift) echo "$NS backup run --repo $WORK/repo-nightshift data" ;;
    restic) echo "restic -r $WORK/repo-restic backup --quiet data" ;;
    borg) echo "borg create --compression zstd,3 $WORK/repo-borg::$2 data" ;;
    tar) echo "bash -c 'tar -cf - data | zstd -3 -T0 -q | age -r $AGE_RCPT > $WORK/repo-tar/$2.tar.zst.age'" ;;
  esac
}

echo "init ..." >&2
has nightshift && (cd "$WORK" && $NS backup init --repo "$WORK/repo-nightshift" >/dev/null)
has restic && restic init -r "$WORK/repo-restic" >/dev/null
has borg && borg init -e repokey-blake2 "$WORK/repo-borg" >/dev/null 2>&1
has tar && mkdir -p "$WORK/repo-tar"

TOOL_LIST=$(echo "$TOOLS" | tr ',' ' ')

echo "first backup (v1) ..." >&2
for t in $TOOL_LIST; do
  measure "$t" first bash -c "$(backup_cmd "$t" v1)"
  record "$t" first bytes "$(size "$WORK/repo-$t")"
done

echo "mutate to v2 ..." >&2
python3 "$GEN" mutate "$WORK/data" >&2

echo "incremental backup (v2) ..." >&2
for t in $TOOL_LIST; do
  before=$(size "$WORK/repo-$t")
  measure "$t" incr bash -c "$(backup_cmd "$t" v2)"
  record "$t" incr bytes $(($(size "$WORK/repo-$t") - before))
done

echo "no-change backup ..." >&2
for t in $TOOL_LIST; do
  measure "$t" nochange bash -c "$(backup_cmd "$t" v3)"
done

echo "restore ..." >&2
for t in $TOOL_LIST; do
  dest=$WORK/restore-$t
  rm -rf "$dest"
  mkdir -p "$dest"
  case $t in
    nightshift) measure "$t" restore bash -c "$NS backup restore latest --repo $WORK/repo-nightshift --target $dest" ;;
    restic) measure "$t" restore restic -r "$WORK/repo-restic" restore latest --target "$dest" ;;
    borg) measure "$t" restore bash -c "cd $dest && borg extract $WORK/repo-borg::v3" ;;
    tar) measure "$t" restore bash -c "age -d -i $WORK/age.key $WORK/repo-tar/v3.tar.zst.age | zstd -d -q | tar -xf - -C $dest" ;;
  esac
  # restic restores the absolute path it was given; the others the relative one.
  got=$(find "$dest" -type d -name data -prune | head -1)
  if ! diff -r "$WORK/data" "$got" >/dev/null; then
    echo "$t restore differs from the source" >&2
    exit 1
  fi
  rm -rf "$dest"
done

echo "check --read-data ..." >&2
for t in $TOOL_LIST; do
  case $t in
    nightshift) measure "$t" check bash -c "$NS backup check --read-data --repo $WORK/repo-nightshift" ;;
    restic) measure "$t" check restic -r "$WORK/repo-restic" check --read-data ;;
    borg) measure "$t" check borg check --verify-data "$WORK/repo-borg" ;;
    tar) measure "$t" check bash -c "age -d -i $WORK/age.key $WORK/repo-tar/v3.tar.zst.age | zstd -t -q" ;;
  esac
done

python3 "$ROOT/bench/backup/table.py" "$RES" "$OUT/results.json"
