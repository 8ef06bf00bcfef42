#!/bin/sh
# Example executable handler: the event JSON arrives on stdin, details in WHD_* variables.
# Exit 0 is success; anything printed goes to whd's log.
body=$(cat)
ref=$(printf '%s' "$body" | sed -n 's/.*"ref":"\([^"]*\)".*/\1/p')
echo "push $WHD_EVENT_ID to ${ref:-unknown ref} (attempt $WHD_ATTEMPT, webhook $WHD_WEBHOOK, ${#body} bytes)"
