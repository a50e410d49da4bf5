#!/usr/bin/env bash
# Enqueues one Hopper job with nothing but the AWS CLI, and prints its jid.
#
#   examples/shell/enqueue.sh QUEUE JOBTYPE [ARGS_JSON] [DELAY_SECONDS]
#
#   QUEUE          a queue name declared in the JobSystem, such as default
#   JOBTYPE        letters, digits and . _ : - (other names need JSON escaping; use a client library)
#   ARGS_JSON      the handler's arguments as a JSON array; default []
#   DELAY_SECONDS  run no earlier than this many seconds from now, 0 to 900; default 0
#
# Queue URLs come from HOPPER_QUEUE_URLS, the JSON object of queue name to URL that Hopper's
# functions get and the stack exports as the output <JobSystem id>QueueUrls:
#
#   export HOPPER_QUEUE_URLS=$(aws cloudformation describe-stacks --stack-name HopperDemo \
#     --query "Stacks[0].Outputs[?OutputKey=='JobsQueueUrls'].OutputValue" --output text)
#   examples/shell/enqueue.sh default SendEmail '["a@example.com", 42]'
#
# The job is the JSON body of one SQS message (docs/protocol.md, docs/job.schema.json). The jid is
# made here so that the caller knows it (for logs and idempotency). Set AWS_CLI to choose the aws
# binary, and AWS_ENDPOINT_URL_SQS to talk to a local emulator (AWS CLI releases before 2.13 ignore
# that variable, so it is passed as --endpoint-url).
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
  sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 64
fi
queue=$1
jobtype=$2
args=${3:-[]}
delay=${4:-0}

fail() {
  echo "enqueue.sh: $*" >&2
  exit 64
}
[[ $queue =~ ^[A-Za-z0-9_-]{1,64}$ ]] || fail "QUEUE must be a queue name of 1 to 64 letters, digits, - or _, but \"$queue\" was provided"
[[ $jobtype =~ ^[A-Za-z0-9._:-]{1,256}$ ]] || fail "JOBTYPE must be 1 to 256 letters, digits, '.', '_', ':' or '-', but \"$jobtype\" was provided"
[[ $args =~ ^[[:space:]]*\[.*\][[:space:]]*$ ]] || fail "ARGS_JSON must be a JSON array, such as '[\"a@example.com\", 42]'"
if ! [[ $delay =~ ^[0-9]+$ ]] || [ "$delay" -gt 900 ]; then
  fail "DELAY_SECONDS must be an integer from 0 to 900 (later jobs go through the scheduled set: use the TypeScript client)"
fi

# HOPPER_QUEUE_URLS is a flat object of names to URLs, so a pattern finds the URL without a JSON tool.
[ -n "${HOPPER_QUEUE_URLS:-}" ] || fail "HOPPER_QUEUE_URLS is not set (see the comment at the top of this script)"
pattern="\"$queue\"[[:space:]]*:[[:space:]]*\"([^\"]+)\""
[[ $HOPPER_QUEUE_URLS =~ $pattern ]] || fail "queue \"$queue\" is not in HOPPER_QUEUE_URLS"
queue_url=${BASH_REMATCH[1]}

# 24 hex characters, as Sidekiq makes jids.
jid=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
body=$(printf '{"jid":"%s","jobtype":"%s","args":%s,"queue":"%s","created_at":"%s","enqueued_at":"%s"}' \
  "$jid" "$jobtype" "$args" "$queue" "$now" "$now")

endpoint=()
if [ -n "${AWS_ENDPOINT_URL_SQS:-}" ]; then endpoint=(--endpoint-url "$AWS_ENDPOINT_URL_SQS"); fi

"${AWS_CLI:-aws}" "${endpoint[@]}" sqs send-message \
  --queue-url "$queue_url" \
  --message-body "$body" \
  --delay-seconds "$delay" \
  --output text --query MessageId >/dev/null
echo "$jid"
