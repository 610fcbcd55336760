#!/bin/sh
# Seed story 001, the whole plan, with no scripting around nightshift: everything (agent config,
# workspace, its git history, the ERP database and Redis "when running") backed up every 2 hours
# off this small disk, to S3 or an SFTP server, with a copy on a USB disk or NAS; tiered
# retention in both (every snapshot of the last 7 days, one a week for 4 weeks, one a month for
# a year); a weekly drill that restores the database dump into a scratch database and checks it
# has invoices; alerts before the storage fills up; low priority while people work.
#
# The host keeps only the writer key of a recipients repository: it can back up but cannot read
# its history. Drills and copies read with the age identity, fetched by reference (keep it off
# this host in production: vault:secret/backup#identity or cmd:... work the same).
#
# Inputs (environment):
#   NIGHTSHIFT_HOME
#   WORKSPACE, AGENT_CONFIG  directories to back up (WORKSPACE is also a git repository)
#   ERP_DB                   the PostgreSQL database: a name or postgresql://user@host:port/db
#   REDIS_URL                redis://host:port
#   REPO                     s3:https://host/bucket/prefix (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)
#                            or sftp:user@host:/path (NIGHTSHIFT_SSH_KEY, known_hosts)
#   COPY_TO                  the second repository: the USB disk or NAS mount (a directory)
#   IDENTITY                 where the age identity is written
set -eu

# An identity for reading, and both repositories encrypted to its recipient.
recipient=$(nightshift backup keygen --out "$IDENTITY" --json | sed -n 's/.*"recipient": *"\([^"]*\)".*/\1/p')
nightshift backup init --repo "$REPO" --recipient "$recipient"
nightshift backup init --repo "$COPY_TO" --recipient "$recipient"

# Files, git history and databases in one snapshot. The databases are optional ("only if the
# containers are running"): one that is down is skipped with a warning, never a silent gap.
nightshift backup profile add everything \
  --repo "$REPO" \
  --recipients-repo \
  --identity-ref "file:$IDENTITY" \
  --path "$WORKSPACE" \
  --path "$AGENT_CONFIG" \
  --exclude node_modules \
  --git "workspace=$WORKSPACE" \
  --postgres "erp=$ERP_DB" \
  --optional erp \
  --redis "cache=$REDIS_URL" \
  --optional cache \
  --copy-to "$COPY_TO" \
  --keep-within 7d \
  --keep-weekly 4 \
  --keep-monthly 12 \
  --prune-every 7d \
  --verify-subset 2% \
  --drill-query 'select count(*) from invoices' \
  --nice \
  --limit-upload 2MiB/s

# Every 2 hours, warning before the storage is full: the remote repository above 20 GiB, the
# USB disk more than 80% full.
nightshift cron add --name everything-backup --every 2h --backup everything \
  --alert-max-repo-bytes 20G \
  --alert-repo-usage 80%
# Every Sunday at 04:30: restore 20 random files and the database dump, run the check query.
nightshift cron add --name everything-drill --cron '30 4 * * 0' --drill everything --drill-sample 20

nightshift cron show everything-backup
nightshift cron run everything-backup --wait
nightshift cron run everything-drill --wait
