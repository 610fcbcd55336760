#!/bin/sh
# Seed story 000: a daily 03:00 encrypted backup of the agent's state. The passphrase is fetched
# from where it lives at run time (here an environment variable; in production e.g.
# vault:secret/backup#password) so the agent never holds it; the last 3 snapshots are kept; a run
# is `ok` only when the snapshot is listed, its index entries exist and retention ran.
#
# Inputs (environment): NIGHTSHIFT_HOME, AGENT_STATE (directory to back up), REPO (repository
# directory), BACKUP_PASSWORD (read through the reference env:BACKUP_PASSWORD, also by the daemon).
set -eu

# The repository: `backup init` reads the passphrase from NIGHTSHIFT_PASSWORD (never from argv).
NIGHTSHIFT_PASSWORD="$BACKUP_PASSWORD" nightshift backup init --repo "$REPO"

# The profile stores only the reference env:BACKUP_PASSWORD, never the value.
nightshift backup profile add agent-state \
  --repo "$REPO" \
  --password-ref env:BACKUP_PASSWORD \
  --path "$AGENT_STATE" \
  --exclude '*.tmp' \
  --keep-last 3 \
  --verify-subset 10%

# Every day at 03:00 host time.
nightshift cron add --name agent-state-backup --cron '0 3 * * *' --backup agent-state

# What it will do, and a first run now (exit status 0 only when the run is `ok`).
nightshift cron show agent-state-backup
nightshift cron run agent-state-backup --wait
