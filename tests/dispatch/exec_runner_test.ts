import assert from "node:assert/strict";
import { alive } from "../helpers/processes.ts";
import { join } from "node:path";
import { ManualClock } from "../../src/clock.ts";
import { type ExecRun, runExecutable } from "../../src/dispatch/exec_runner.ts";
import { memoryLogger } from "../../src/ops/log.ts";
import { REDACTED } from "../../src/ops/scrub.ts";
import { handlersDir, PUSH_EVENT as event } from "./_helpers.ts";

async function script(text: string): Promise<string> {
  const dir = await handlersDir({ "github/push.sh": { text, mode: 0o755 } });
  return join(dir, "github/push.sh");
}

/** Runs `path` on the push event, attempt 1, 10 s timeout, a fresh memory log: `extra` overrides. */
function run(path: string, extra: Partial<ExecRun> = {}) {
  return runExecutable({
    path,
    event,
    attempt: 1,
    timeoutMs: 10_000,
    log: memoryLogger(),
    ...extra,
  });
}

Deno.test("exec: the event arrives on stdin, WHD_* in the environment, stdout in the log", async () => {
  const path = await script(`#!/bin/sh
read -r body
echo "$WHD_PROVIDER|$WHD_WEBHOOK|$WHD_EVENT_ID|$WHD_EVENT_TYPE|$WHD_ATTEMPT"
echo "$body"
echo "warning here" >&2
`);
  const log = memoryLogger();
  const result = await run(path, { attempt: 2, log });
  assert.equal(result.ok, true, result.error ?? "");
  assert.equal(result.exitCode, 0);
  const [envLine, body] = result.stdout.trim().split("\n");
  assert.equal(envLine, "github|repo|d-1|push|2");
  assert.deepEqual(JSON.parse(body), event);
  const lines = log.lines.map((l) => JSON.parse(l));
  // The two streams are read side by side: order holds within a stream.
  const of = (stream: string) =>
    lines.filter((l) => l.stream === stream).map((l) => [l.level, l.line]);
  assert.deepEqual(of("stdout"), [["info", envLine], ["info", body]]);
  assert.deepEqual(of("stderr"), [["warn", "warning here"]]);
});

Deno.test("exec: a non-zero exit code is a failure that quotes the last stderr line", async () => {
  const path = await script(`#!/bin/sh\necho "database is down" >&2\nexit 3\n`);
  const result = await run(path);
  assert.equal(result.ok, false);
  assert.equal(result.exitCode, 3);
  assert.equal(result.error, "exit code 3: database is down");
});

Deno.test("exec: at the timeout the process is killed and the run fails as timed out", async () => {
  const path = await script(`#!/bin/sh\nexec sleep 30\n`);
  const started = Date.now();
  const result = await run(path, { timeoutMs: 200, abortGraceMs: 200 });
  assert.equal(result.ok, false);
  assert.equal(result.timedOut, true);
  assert.ok(Date.now() - started < 5000);
});

Deno.test("exec: output beyond the bound is dropped and the truncation logged", async () => {
  const path = await script(`#!/bin/sh\nhead -c 100000 /dev/zero | tr '\\0' 'a'\n`);
  const log = memoryLogger();
  const result = await run(path, { maxOutputBytes: 1000, log });
  assert.equal(result.ok, true);
  assert.equal(result.stdout.length, 1000);
  assert.ok(log.lines.some((l) => l.includes("handler output truncated")));
});

Deno.test("exec: a file that cannot be started is a failed run", async () => {
  const result = await run("/nonexistent/handler.sh", { timeoutMs: 1000 });
  assert.equal(result.ok, false);
  assert.match(result.error!, /cannot start \/nonexistent\/handler\.sh/);
});

async function pidsIn(file: string): Promise<number[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}

for (
  const [name, body] of [
    ["a background sleep 600 &", `sleep 600 &\necho $! >> "$PIDS"\nwait\n`],
    ["a pipeline", `sleep 600 | sleep 601 &\njobs -p >> "$PIDS"\nwait\n`],
    [
      "a child that ignores SIGTERM",
      `sh -c 'trap "" TERM; echo $$ >> "$PIDS"; while :; do sleep 1; done' &\nwait\n`,
    ],
  ]
) {
  Deno.test(`exec: at the timeout the whole process group dies: ${name}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "whd_exec_group_" });
    const pids = join(dir, "pids");
    const path = await script(`#!/bin/sh\nexport PIDS=${pids}\necho $$ >> "$PIDS"\n${body}`);
    const result = await run(path, { timeoutMs: 500, abortGraceMs: 300 });
    assert.equal(result.timedOut, true);
    const started = await pidsIn(pids);
    assert.ok(started.length >= 2, `the script recorded its pids: ${started}`);
    assert.deepEqual(started.filter(alive), [], "every process of the handler is gone");
    await Deno.remove(dir, { recursive: true });
  });
}

/** A handler script that leaves `sleep 600` running in the background and records its pid. */
async function backgroundSleeper(prefix: string) {
  const dir = await Deno.makeTempDir({ prefix });
  const pids = join(dir, "pids");
  const path = await script(`#!/bin/sh\nsleep 600 &\necho $! > ${pids}\nwait\n`);
  return {
    path,
    /** Resolves once the script has recorded the pid of its `sleep`. */
    started: async () => {
      while ((await pidsIn(pids)).length === 0) await new Promise((r) => setTimeout(r, 20));
    },
    /** Those of the recorded processes still running. */
    survivors: async () => (await pidsIn(pids)).filter(alive),
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("exec: a cancelled run (shutdown) stops the whole group too", async () => {
  const sleeper = await backgroundSleeper("whd_exec_cancel_");
  const controller = new AbortController();
  const running = run(sleeper.path, {
    timeoutMs: 60_000,
    abortGraceMs: 300,
    signal: controller.signal,
  });
  await sleeper.started();
  controller.abort();
  const result = await running;
  assert.equal(result.cancelled, true);
  assert.deepEqual(await sleeper.survivors(), []);
  await sleeper.remove();
});

Deno.test("exec: the timeout runs on the injected clock", async () => {
  const sleeper = await backgroundSleeper("whd_exec_clock_");
  const clock = new ManualClock();
  const running = run(sleeper.path, { timeoutMs: 3_600_000, abortGraceMs: 0, clock });
  await sleeper.started();
  assert.equal(clock.pendingTimers, 1, "the timeout is a timer on the given clock");
  clock.advance(3_600_000);
  const result = await running;
  assert.equal(result.timedOut, true);
  assert.equal(result.error, "timed out after 3600000 ms");
  assert.deepEqual(await sleeper.survivors(), [], "the group was stopped");
  assert.equal(clock.pendingTimers, 0);
  await sleeper.remove();
});

Deno.test("exec: a process left behind holding the pipes does not hold the run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_exec_left_" });
  const pids = join(dir, "pids");
  // Exits 0 at once; its background child keeps stdout open.
  const path = await script(`#!/bin/sh\nsleep 30 &\necho $! > ${pids}\necho done\n`);
  const result = await run(path);
  assert.equal(result.ok, true);
  assert.equal(result.stdout, "done\n");
  for (const pid of await pidsIn(pids)) Deno.kill(pid, "SIGKILL");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("exec: a flooding handler gets at most the cap of log lines per stream, marked once", async () => {
  const cap = 8192;
  const path = await script(
    `#!/bin/sh\nyes "out line" | head -n 100000\nyes "err line" | head -n 100000 >&2\n`,
  );
  const log = memoryLogger();
  const result = await run(path, { timeoutMs: 20_000, maxOutputBytes: cap, log });
  assert.equal(result.ok, true);
  const bytes = (l: string) => new TextEncoder().encode(l).length + 1;
  for (const stream of ["stdout", "stderr"]) {
    const lines = log.lines.filter((l) => JSON.parse(l).stream === stream);
    const markers = lines.filter((l) => JSON.parse(l).msg === "handler output truncated");
    assert.equal(markers.length, 1, `${stream} marked once`);
    const output = lines.filter((l) => JSON.parse(l).msg === "handler output");
    assert.ok(output.length > 10, `${stream} output reached the log`);
    const total = output.reduce((n, l) => n + bytes(l), 0);
    assert.ok(total <= cap, `${stream}: ${total} bytes of log lines > cap ${cap}`);
  }
});

Deno.test("exec: a secret in output and in the failure never reaches the log or the result", async () => {
  const canary = "sk_test_exec_canary_4242";
  const path = await script(
    `#!/bin/sh\necho "key ${canary}"\necho '{"k":"${canary}"}'\n` +
      `printf '%s' '${canary}' | base64\necho "failed with ${canary}" >&2\nexit 1\n`,
  );
  const log = memoryLogger("debug", new Set([canary]));
  const result = await run(path, { log });
  assert.equal(result.ok, false);
  assert.equal(result.error, `exit code 1: failed with ${REDACTED}`);
  const everything = [...log.lines, result.stdout, result.stderr, result.error].join("\n");
  assert.ok(!everything.includes(canary), everything);
  assert.ok(!everything.includes(btoa(canary).slice(0, 20)), everything);
  assert.equal(log.lines.length, 4);
});
