import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { handlerHostCommand } from "../../src/dispatch/host_command.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

Deno.test("host command: a compiled binary re-runs itself with __handler-host", () => {
  assert.deepEqual(handlerHostCommand({ standalone: true, execPath: "/opt/whd" }), {
    command: "/opt/whd",
    args: ["__handler-host"],
  });
});

Deno.test("host command: from source, deno runs the repository's main.ts with its deno.json", () => {
  assert.deepEqual(handlerHostCommand({ standalone: false, execPath: "/usr/bin/deno" }), {
    command: "/usr/bin/deno",
    args: [
      "run",
      "--allow-all",
      "--config",
      `${REPO}deno.json`,
      `${REPO}main.ts`,
      "__handler-host",
    ],
  });
});

Deno.test("host command: the default is this process's mode and executable", () => {
  const command = handlerHostCommand();
  assert.equal(command.command, Deno.execPath());
  assert.equal(command.args[0], Deno.build.standalone ? "__handler-host" : "run");
});
