import assert from "node:assert/strict";
import { join } from "node:path";
import { runExecutable } from "../../src/dispatch/exec_runner.ts";
import { memoryLogger } from "../../src/ops/log.ts";
import { handlersDir, PUSH_EVENT as event } from "./_helpers.ts";

async function script(text: string): Promise<string> {
  const dir = await handlersDir({ "github/push.sh": { text, mode: 0o755 } });
  return join(dir, "github/push.sh");
}

Deno.test("exec: the event arrives on stdin, WHD_* in the environment, stdout in the log", async () => {
  const path = await script(`#!/bin/sh
read -r body
echo "$WHD_PROVIDER|$WHD_WEBHOOK|$WHD_EVENT_ID|$WHD_EVENT_TYPE|$WHD_ATTEMPT"
echo "$body"
echo "warning here" >&2
`);
  const log = memoryLogger();
  const result = await runExecutable({ path, event, attempt: 2, timeoutMs: 10_000, log });
  assert.equal(result.ok, true, result.error ?? "");
  assert.equal(result.exitCode, 0);
  const [envLine, body] = result.stdout.trim().split("\n");
  assert.equal(envLine, "github|repo|d-1|push|2");
  assert.deepEqual(JSON.parse(body), event);
  const lines = log.lines.map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.level, l.stream, l.line]), [
    ["info", "stdout", envLine],
    ["info", "stdout", body],
    ["warn", "stderr", "warning here"],
  ]);
});

Deno.test("exec: a non-zero exit code is a failure that quotes the last stderr line", async () => {
  const path = await script(`#!/bin/sh\necho "database is down" >&2\nexit 3\n`);
  const result = await runExecutable({
    path,
    event,
    attempt: 1,
    timeoutMs: 10_000,
    log: memoryLogger(),
  });
  assert.equal(result.ok, false);
  assert.equal(result.exitCode, 3);
  assert.equal(result.error, "exit code 3: database is down");
});

Deno.test("exec: at the timeout the process is killed and the run fails as timed out", async () => {
  const path = await script(`#!/bin/sh\nexec sleep 30\n`);
  const started = Date.now();
  const result = await runExecutable({
    path,
    event,
    attempt: 1,
    timeoutMs: 200,
    abortGraceMs: 200,
    log: memoryLogger(),
  });
  assert.equal(result.ok, false);
  assert.equal(result.timedOut, true);
  assert.ok(Date.now() - started < 5000);
});

Deno.test("exec: output beyond the bound is dropped and the truncation logged", async () => {
  const path = await script(`#!/bin/sh\nhead -c 100000 /dev/zero | tr '\\0' 'a'\n`);
  const log = memoryLogger();
  const result = await runExecutable({
    path,
    event,
    attempt: 1,
    timeoutMs: 10_000,
    maxOutputBytes: 1000,
    log,
  });
  assert.equal(result.ok, true);
  assert.equal(result.stdout.length, 1000);
  assert.ok(log.lines.some((l) => l.includes("handler output truncated")));
});

Deno.test("exec: a file that cannot be started is a failed run", async () => {
  const result = await runExecutable({
    path: "/nonexistent/handler.sh",
    event,
    attempt: 1,
    timeoutMs: 1000,
    log: memoryLogger(),
  });
  assert.equal(result.ok, false);
  assert.match(result.error!, /cannot start \/nonexistent\/handler\.sh/);
});
