#!/usr/bin/env bash
# Backup benchmark: nightshift against restic, borg and `tar | zstd -3 | age` on the same data.
#
#   bench/backup/run.sh [--runs N] [TOOLS]            TOOLS: comma list of nightshift,restic,borg,tar (default: all)
#   bench/backup/run.sh --scale [COUNT] [--runs N] [TOOLS]
#   bench/backup/run.sh --remote [--runs N]
#   bench/backup/run.sh --growth [N] [--runs N]
#
# Every figure is the median of N runs (default 3; --runs 1 for a quick look), printed with its
# spread (max - min, as a percentage of the median).
#
# The dataset (~1 GiB, 30k files; ../shared/bench/gen_dataset.py) is generated once and cached
# under bench/out/backup/dataset-v1. Each run copies it, then measures with /usr/bin/time -v:
#   first     backup of v1 into an empty repository (and the repository size after it)
#   incr      backup after `gen_dataset.py mutate` turned the copy into v2 in place (and the growth)
#   nochange  backup of the unchanged v2 again
#   restore   restore of the latest snapshot into an empty directory (verified byte-exact with diff -r).
#             Run as root with mkfs.ext4, each tool restores onto its own freshly made ext4 (a loop
#             mount under the work directory, made like this machine's: no journal). On a
#             filesystem where tens of thousands of files were deleted in the last minutes (this
#             bench deletes its previous run and each restore), ext4 without a journal scans past
#             every recently freed inode on each create, which cost 6-13 s of system time that
#             varied with the tool's file placement, not its work. Otherwise (not root) the restore
#             goes into the work directory and that noise stays in the figures (printed as a note).
#   check     check --read-data (borg: check --verify-data; tar: decrypt + zstd -t)
# and prints each figure as a ratio to restic (wall time, CPU time and peak RSS per phase). Results also go to bench/out/backup/results.json.
#
# --scale [COUNT]: a tree of COUNT small files (default 1,000,000; bench/backup/gen_small_files.py,
# generated once per count under bench/out/backup/scale-COUNT), nightshift and restic only:
#   first     first backup
#   nochange  backup of the unchanged tree
#   restore1  restore of one directory (d0000/s00)
#   check     check (structure, no data)
# --growth [N]: a repository grown over N snapshots (default 1,000) of a tree of 3,000 small files
# (gen_small_files.py; GROWTH_FILES overrides the count), each snapshot taken after `gen_small_files.py
# mutate` rewrote five files, added one and deleted one; nightshift and restic, snapshot by snapshot
# in the same run (the backups themselves are not measured). At N/10, 3N/10 and N snapshots:
#   snapshots  list the snapshots
#   check      check (structure, no data)
#   forget     forget --keep-last 10 --prune, on a copy of the repository (growth goes on from the original)
# and prints each figure with its growth: the time at that size over the time at the first size, per
# tool. The target is that nightshift's times grow no faster than restic's.
# --remote: nightshift and restic back up to the same local S3 server (s3rver, started here on
# loopback; both speak the real S3 protocol to it), on the 1 GiB dataset:
#   first     first backup into an empty bucket prefix (and the bytes stored under it)
#   incr      backup after `gen_dataset.py mutate` (and the growth)
# then a restore of the latest snapshot from S3, verified byte-exact with diff -r.
# Needs: restic, borg (borgbackup), age, zstd, python3, GNU time (--remote: restic and node only).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out/backup}
GEN=${GEN_DATASET:-$ROOT/../shared/bench/gen_dataset.py}
RUNS=3
SCALE=
GROWTH=
REMOTE=
TOOLS=
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --scale)
      SCALE=1000000
      if [[ ${2:-} =~ ^[0-9]+$ ]]; then SCALE=$2; shift; fi
      shift ;;
    --growth)
      GROWTH=1000
      if [[ ${2:-} =~ ^[0-9]+$ ]]; then GROWTH=$2; shift; fi
      shift ;;
    --remote) REMOTE=1; shift ;;
    *) TOOLS=$1; shift ;;
  esac
done
if [ -n "$SCALE" ] || [ -n "$REMOTE" ] || [ -n "$GROWTH" ]; then TOOLS=${TOOLS:-nightshift,restic}; else TOOLS=${TOOLS:-nightshift,restic,borg,tar}; fi
WORK=$OUT/work
RES=$OUT/results.tsv
PASS=bench-password-not-secret
mkdir -p "$OUT"
# Only the tools being compared are needed (age and zstd also serve the setup and the tar run).
NEEDS="age age-keygen zstd python3 /usr/bin/time $(echo "$TOOLS" | tr ',' '\n' | grep -xE 'restic|borg' || true)"
[ -n "$REMOTE" ] && NEEDS="$NEEDS node openssl"
for bin in $NEEDS; do
  command -v "$bin" >/dev/null || { echo "missing $bin (apt-get install restic borgbackup age zstd time)" >&2; exit 2; }
done

if [ -n "$GROWTH" ]; then
  GROWTH_FILES=${GROWTH_FILES:-3000}
  DATASET=$OUT/scale-$GROWTH_FILES
  if [ ! -d "$DATASET" ]; then
    rm -rf "$DATASET.tmp"
    python3 "$ROOT/bench/backup/gen_small_files.py" "$DATASET.tmp" "$GROWTH_FILES" >&2
    mv "$DATASET.tmp" "$DATASET"
  fi
elif [ -n "$SCALE" ]; then
  DATASET=$OUT/scale-$SCALE
  if [ ! -d "$DATASET" ]; then
    echo "generating $SCALE small files (once) ..." >&2
    rm -rf "$DATASET.tmp"
    python3 "$ROOT/bench/backup/gen_small_files.py" "$DATASET.tmp" "$SCALE" >&2
    mv "$DATASET.tmp" "$DATASET"
  fi
else
  DATASET=$OUT/dataset-v1
  if [ ! -d "$DATASET" ]; then
    echo "generating dataset (once) ..." >&2
    rm -rf "$DATASET.tmp"
    python3 "$GEN" gen "$DATASET.tmp" >&2
    mv "$DATASET.tmp" "$DATASET"
  fi
fi
: >"$RES"
RUN=0

# setup_run: a fresh work directory with a copy of the data and empty repositories.
setup_run() {
  rm -rf "$WORK"
  mkdir -p "$WORK"
  cp -a "$DATASET" "$WORK/data"
  export RESTIC_PASSWORD=$PASS RESTIC_CACHE_DIR=$WORK/cache/restic
  export BORG_PASSPHRASE=$PASS BORG_BASE_DIR=$WORK/cache/borg BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
  export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
  export NIGHTSHIFT_PASSWORD=$PASS
  age-keygen -o "$WORK/age.key" 2>/dev/null
  AGE_RCPT=$(age-keygen -y "$WORK/age.key")
  NS="$ROOT/bin/nightshift --home $WORK/ns-home"
  echo "init ..." >&2
  if [ -n "$REMOTE" ]; then
    start_s3
    (cd "$WORK" && $NS backup init --repo "$(repo_of nightshift)" >/dev/null)
    restic --cacert "$WORK/s3.crt" init -r "$(repo_of restic)" >/dev/null
    return
  fi
  if has nightshift; then (cd "$WORK" && $NS backup init --repo "$WORK/repo-nightshift" >/dev/null); fi
  if has restic; then restic init -r "$WORK/repo-restic" >/dev/null; fi
  if has borg; then borg init -e repokey-blake2 "$WORK/repo-borg" >/dev/null 2>&1; fi
  if has tar; then mkdir -p "$WORK/repo-tar"; fi
}

has() { [[ ",$TOOLS," == *",$1,"* ]]; }

# --remote: one s3rver per run, its objects under $WORK/s3; both tools log in with its fixed keys.
S3_PID=
start_s3() {
  mkdir -p "$WORK/s3"
  # HTTPS with a throwaway certificate: over plain HTTP restic signs uploads in aws-chunked form,
  # which s3rver stores as it comes (chunk headers and all).
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/s3.key" -out "$WORK/s3.crt" 2>/dev/null
  export S3RVER_KEY=$WORK/s3.key S3RVER_CERT=$WORK/s3.crt NODE_EXTRA_CA_CERTS=$WORK/s3.crt
  coproc S3 { exec node --openssl-legacy-provider "$ROOT/test/helpers/s3rver-main.mjs" "$WORK/s3" 0 bench; }
  read -r S3_PORT <&"${S3[0]}"
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
}
stop_s3() { if [ -n "$S3_PID" ]; then kill "$S3_PID" 2>/dev/null || true; wait "$S3_PID" 2>/dev/null || true; S3_PID=; fi; }
# A failed run leaves no restore filesystem mounted.
trap 'stop_s3; for m in "$WORK"/restore-*; do [ -d "$m" ] && drop_fs "$m"; done 2>/dev/null; true' EXIT
repo_of() { echo "s3:https://127.0.0.1:$S3_PORT/bench/$1"; }
# Bytes a tool stored: s3rver keeps each object as a file (plus small metadata files) under bucket/key.
s3_size() { du -sb "$WORK/s3/bench/$1" 2>/dev/null | cut -f1 || echo 0; }

# fresh_fs DIR: mounts a new ext4 (no journal, like this machine's root) on DIR when run as root
# with mkfs.ext4; drop_fs DIR unmounts it. See the restore phase in the header for why.
FRESH_FS_NOTE=
fresh_fs() {
  if [ "$(id -u)" != 0 ] || ! command -v mkfs.ext4 >/dev/null; then
    FRESH_FS_NOTE="restores went into the work directory (not root or no mkfs.ext4): their system time includes ext4's cost of recently deleted inodes"
    return 0
  fi
  local img=$1.img size
  size=$(( $(du -sb "$WORK/data" | cut -f1) * 3 / 2 + 512 * 1024 * 1024 ))
  truncate -s "$size" "$img"
  mkfs.ext4 -q -F -O ^has_journal "$img"
  mount -o loop "$img" "$1"
}
drop_fs() {
  if mountpoint -q "$1"; then umount "$1"; rm -f "$1.img"; fi
}

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
  record "$tool" "$phase" seconds "$wall"
  record "$tool" "$phase" rss_kib "$rss"
  record "$tool" "$phase" cpu_seconds "$cpu"
  echo "  $tool $phase: ${wall}s wall, ${cpu}s CPU, peak RSS $((rss / 1024)) MiB" >&2
}

size() { du -sb "$1" | cut -f1; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$RUN" >>"$RES"; }

backup_cmd() {
  if [ -n "$REMOTE" ]; then
    case $1 in
      nightshift) echo "$NS backup run --repo $(repo_of nightshift) data" ;;
      restic) echo "restic --cacert $WORK/s3.crt -r $(repo_of restic) backup --quiet data" ;;
    esac
    return
  fi
  case $1 in
    nightshift) echo "$NS backup run --repo $WORK/repo-nightshift data" ;;
    restic) echo "restic -r $WORK/repo-restic backup --quiet data" ;;
    borg) echo "borg create --compression zstd,3 $WORK/repo-borg::$2 data" ;;
    tar) echo "bash -c 'tar -cf - data | zstd -3 -T0 -q | age -r $AGE_RCPT > $WORK/repo-tar/$2.tar.zst.age'" ;;
  esac
}

# one_run: the standard phases on the 1 GiB dataset.
one_run() {
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
    fresh_fs "$dest"
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
    drop_fs "$dest"
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
}

# one_remote_run: first and incremental backup to the local S3 server, then a restore from it.
one_remote_run() {
  echo "first backup (v1) to S3 ..." >&2
  for t in $TOOL_LIST; do
    measure "$t" first bash -c "$(backup_cmd "$t" v1)"
    record "$t" first bytes "$(s3_size "$t")"
  done
  echo "mutate to v2 ..." >&2
  python3 "$GEN" mutate "$WORK/data" >&2
  echo "incremental backup (v2) to S3 ..." >&2
  for t in $TOOL_LIST; do
    before=$(s3_size "$t")
    measure "$t" incr bash -c "$(backup_cmd "$t" v2)"
    record "$t" incr bytes $(($(s3_size "$t") - before))
  done
  echo "restore from S3 ..." >&2
  for t in $TOOL_LIST; do
    dest=$WORK/restore-$t
    rm -rf "$dest"
    mkdir -p "$dest"
    case $t in
      nightshift) measure "$t" restore bash -c "$NS backup restore latest --repo $(repo_of nightshift) --target $dest" ;;
      restic) measure "$t" restore restic --cacert "$WORK/s3.crt" -r "$(repo_of restic)" restore latest --target "$dest" ;;
    esac
    got=$(find "$dest" -type d -name data -prune | head -1)
    if ! diff -r "$WORK/data" "$got" >/dev/null; then
      echo "$t restore from S3 differs from the source" >&2
      exit 1
    fi
    rm -rf "$dest"
  done
  stop_s3
}

# one_scale_run: the --scale phases (nightshift and restic).
one_scale_run() {
  echo "first backup of $SCALE files ..." >&2
  for t in $TOOL_LIST; do
    measure "$t" first bash -c "$(backup_cmd "$t" v1)"
    record "$t" first bytes "$(size "$WORK/repo-$t")"
  done
  echo "no-change backup ..." >&2
  for t in $TOOL_LIST; do
    measure "$t" nochange bash -c "$(backup_cmd "$t" v2)"
  done
  echo "restore of one directory ..." >&2
  for t in $TOOL_LIST; do
    dest=$WORK/restore-$t
    rm -rf "$dest"
    mkdir -p "$dest"
    case $t in
      nightshift) measure "$t" restore1 bash -c "$NS backup restore latest --repo $WORK/repo-nightshift --target $dest --include '$WORK/data/d0000/s00'" ;;
      # restic keeps the backed-up directory as the snapshot root (/data).
      restic) measure "$t" restore1 restic -r "$WORK/repo-restic" restore latest --target "$dest" --include /data/d0000/s00 ;;
    esac
    got=$(find "$dest" -type d -path '*/d0000/s00' | head -1)
    if [ -z "$got" ] || ! diff -r "$WORK/data/d0000/s00" "$got" >/dev/null; then
      echo "$t restore of one directory differs from the source" >&2
      exit 1
    fi
    rm -rf "$dest"
  done
  echo "check ..." >&2
  for t in $TOOL_LIST; do
    case $t in
      nightshift) measure "$t" check bash -c "$NS backup check --repo $WORK/repo-nightshift" ;;
      restic) measure "$t" check restic -r "$WORK/repo-restic" check ;;
    esac
  done
}

# one_growth_run: N snapshots of small mutations; snapshots, check and forget --prune measured at three sizes.
one_growth_run() {
  local sizes i t
  sizes="$((GROWTH / 10)) $((GROWTH * 3 / 10)) $GROWTH"
  echo "growing the repositories to $GROWTH snapshots (measured at $sizes) ..." >&2
  for i in $(seq 1 "$GROWTH"); do
    python3 "$ROOT/bench/backup/gen_small_files.py" mutate "$WORK/data" "$i"
    # The tools back up side by side (these backups are not measured).
    for t in $TOOL_LIST; do
      (cd "$WORK" && bash -c "$(backup_cmd "$t" "s$i")" >/dev/null 2>"$WORK/$t-grow.err" || echo "failed" >>"$WORK/$t-grow.err") &
    done
    wait
    for t in $TOOL_LIST; do
      if grep -q '^failed$' "$WORK/$t-grow.err"; then
        echo "$t backup $i failed:" >&2
        tail -20 "$WORK/$t-grow.err" >&2
        exit 1
      fi
    done
    [[ " $sizes " == *" $i "* ]] || continue
    echo "at $i snapshots:" >&2
    for t in $TOOL_LIST; do
      case $t in
        nightshift)
          measure "$t" "snapshots@$i" bash -c "$NS backup snapshots --repo $WORK/repo-nightshift"
          measure "$t" "check@$i" bash -c "$NS backup check --repo $WORK/repo-nightshift"
          rm -rf "$WORK/forget-$t" && cp -a "$WORK/repo-$t" "$WORK/forget-$t"
          measure "$t" "forget@$i" bash -c "$NS backup forget --keep-last 10 --prune --repo $WORK/forget-$t"
          ;;
        restic)
          measure "$t" "snapshots@$i" restic -r "$WORK/repo-restic" snapshots
          measure "$t" "check@$i" restic -r "$WORK/repo-restic" check
          # The copy has its own cache, as a second repository would.
          rm -rf "$WORK/forget-$t" "$WORK/cache/restic-f" && cp -a "$WORK/repo-$t" "$WORK/forget-$t"
          cp -a "$WORK/cache/restic" "$WORK/cache/restic-f"
          measure "$t" "forget@$i" env RESTIC_CACHE_DIR="$WORK/cache/restic-f" \
            restic -r "$WORK/forget-$t" forget --keep-last 10 --prune
          ;;
      esac
      rm -rf "$WORK/forget-$t" "$WORK/cache/restic-f"
    done
  done
}

# Each run starts the tools one further along (run 2: the second goes first, ...): a phase's first
# tool also meets what the machine still does for the phase before (writeback to the disk under
# the restore's loop mount measured 3.8 s against 8 s), so no tool always goes first.
TOOL_ORDER=$(echo "$TOOLS" | tr ',' ' ')
for RUN in $(seq 1 "$RUNS"); do
  TOOL_LIST=$(echo $TOOL_ORDER | awk -v k="$RUN" '{ n = NF; for (i = 0; i < n; i++) printf "%s%s", $(((i + k - 1) % n) + 1), (i < n - 1 ? " " : "") }')
  echo "run $RUN of $RUNS ($TOOL_LIST)" >&2
  setup_run
  if [ -n "$REMOTE" ]; then
    one_remote_run
  elif [ -n "$GROWTH" ]; then
    one_growth_run
  elif [ -n "$SCALE" ]; then
    one_scale_run
  else
    one_run
  fi
done
rm -rf "$WORK"

if [ -n "$GROWTH" ]; then
  python3 "$ROOT/bench/backup/growth_table.py" "$RES" "$OUT/results.json"
else
  python3 "$ROOT/bench/backup/table.py" "$RES" "$OUT/results.json"
fi
if [ -n "$FRESH_FS_NOTE" ]; then echo "note: $FRESH_FS_NOTE"; fi
