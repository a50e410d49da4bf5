#!/usr/bin/env bash
# Enqueues one Hopper job with nothing but the AWS CLI, and prints its jid.
#
#   examples/shell/enqueue.sh QUEUE_URL JOBTYPE [ARGS_JSON] [DELAY_SECONDS]
#
#   QUEUE_URL      the job queue's URL: a stack output, or one value of the HOPPER_QUEUE_URLS JSON
#   JOBTYPE        letters, digits and . _ : - (other names need JSON escaping; use a client library)
#   ARGS_JSON      the handler's arguments as a JSON array; default []
#   DELAY_SECONDS  run no earlier than this many seconds from now, 0 to 900; default 0
#
# Example:
#   examples/shell/enqueue.sh "$QUEUE_URL" SendEmail '["a@example.com", 42]'
#
# The job is the JSON body of one SQS message (docs/protocol.md, docs/job.schema.json); every field
# but jobtype has a default, so this sends only what a producer should set itself. The jid is made
# here so that the caller knows it (for logs and idempotency). Set AWS_CLI to choose the aws binary
# and AWS_ENDPOINT_URL_SQS to talk to a local emulator (AWS CLI releases before 2.13 ignore that
# variable, so it is passed as --endpoint-url).
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
  sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 64
fi
queue_url=$1
jobtype=$2
args=${3:-[]}
delay=${4:-0}

if ! [[ $jobtype =~ ^[A-Za-z0-9._:-]{1,256}$ ]]; then
  echo "enqueue.sh: JOBTYPE must be 1 to 256 letters, digits, '.', '_', ':' or '-', but \"$jobtype\" was provided" >&2
  exit 64
fi
if ! [[ $args =~ ^[[:space:]]*\[.*\][[:space:]]*$ ]]; then
  echo "enqueue.sh: ARGS_JSON must be a JSON array, such as '[\"a@example.com\", 42]'" >&2
  exit 64
fi
if ! [[ $delay =~ ^[0-9]+$ ]] || [ "$delay" -gt 900 ]; then
  echo "enqueue.sh: DELAY_SECONDS must be an integer from 0 to 900 (later jobs go through the scheduled set: use a client library or the HTTP API)" >&2
  exit 64
fi

# 24 hex characters, as Sidekiq makes jids.
jid=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
body=$(printf '{"jid":"%s","jobtype":"%s","args":%s,"created_at":"%s","enqueued_at":"%s"}' "$jid" "$jobtype" "$args" "$now" "$now")

endpoint=()
if [ -n "${AWS_ENDPOINT_URL_SQS:-}" ]; then endpoint=(--endpoint-url "$AWS_ENDPOINT_URL_SQS"); fi

"${AWS_CLI:-aws}" "${endpoint[@]}" sqs send-message \
  --queue-url "$queue_url" \
  --message-body "$body" \
  --delay-seconds "$delay" \
  --output text --query MessageId >/dev/null
echo "$jid"
