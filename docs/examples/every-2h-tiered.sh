#!/bin/sh
# Seed story 001: everything backed up every 2 hours onto a small disk, with tiered retention
# (every snapshot of the last 7 days, then one a week for 4 weeks, one a month for a year), a
# disk-space precheck, weekly prune, and a restore drill every night. The host holds only the
# writer key of a recipients repository: it can back up but cannot read its history. The drill
# reads with the age identity, fetched by reference (keep the file off this host in production:
# vault:secret/backup#identity or cmd:... work the same).
#
# Inputs (environment): NIGHTSHIFT_HOME, WORKSPACE and AGENT_CONFIG (directories to back up),
# REPO (repository directory), IDENTITY (where the age identity is written).
set -eu

# An identity for reading, and a repository encrypted to its recipient.
recipient=$(nightshift backup keygen --out "$IDENTITY" --json | sed -n 's/.*"recipient": *"\([^"]*\)".*/\1/p')
nightshift backup init --repo "$REPO" --recipient "$recipient"

nightshift backup profile add everything \
  --repo "$REPO" \
  --recipients-repo \
  --identity-ref "file:$IDENTITY" \
  --path "$WORKSPACE" \
  --path "$AGENT_CONFIG" \
  --exclude node_modules \
  --keep-within 7d \
  --keep-weekly 4 \
  --keep-monthly 12 \
  --prune-every 7d \
  --verify-subset 2% \
  --min-free 200M

# Every 2 hours, and a drill of 20 random files every night at 04:30.
nightshift cron add --name everything-backup --every 2h --backup everything
nightshift cron add --name everything-drill --cron '30 4 * * *' --drill everything --drill-sample 20

nightshift cron show everything-backup
nightshift cron run everything-backup --wait
nightshift cron run everything-drill --wait
