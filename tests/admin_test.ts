/**
 * The admin listener as an operator meets it, through real `whd serve` / `whd check` processes:
 * `/healthz`, `/readyz`, `/metrics` there and not on the public port; off loopback only with a
 * token (exit 2 and how to fix it otherwise); the bearer token checked on every request and
 * never printed; `whd init`'s commented token.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { bearerMatches } from "../src/ops/admin.ts";
import { startWhd, whd } from "./helpers/whd_process.ts";
import { adminUrl } from "./reliability/_store.ts";
import { leakIn, project } from "./reliability/_project.ts";

const TOKEN = "admin_canary_token_7f3c9a1b2d4e6f80";

Deno.test("admin: /healthz, /readyz and /metrics on the admin port; public port has neither", async () => {
  const p = await project({ log: { level: "info" } });
  try {
    const server = await p.start();
    try {
      const admin = adminUrl(server);
      assert.match(admin, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(await p.deliver(server, "evt_a1", "order.created"), 200);
      const health = await fetch(`${admin}/healthz`);
      assert.deepEqual([health.status, await health.json()], [200, { ok: true }]);
      const ready = await fetch(`${admin}/readyz`);
      assert.deepEqual([ready.status, await ready.json()], [200, {
        ready: true,
        database: { writable: true },
        handlers: { state: "loaded" },
      }]);
      const metrics = await fetch(`${admin}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get("content-type")!, /^text\/plain/);
      assert.match(await metrics.text(), /whd_events_total\{[^}]*result="stored"[^}]*\} 1/);
      for (const path of ["/metrics", "/readyz", "/nothing"]) {
        const response = await fetch(`${server.url}${path}`);
        assert.equal(response.status, 404, path);
        await response.body?.cancel();
      }
      const bare = await fetch(`${server.url}/healthz`);
      assert.deepEqual(await bare.json(), { ok: true });
      const post = await fetch(`${admin}/readyz`, { method: "POST" });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET");
      assert.deepEqual(await post.json(), {
        error: "method_not_allowed",
        message: "/healthz, /readyz and /metrics take GET",
      });
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  } finally {
    await p.remove();
  }
});

/** Prepends `text` to the project's config. */
async function configure(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text + await Deno.readTextFile(path));
}

Deno.test("admin: off loopback without admin.token_env is a config error (exit 2, how to fix)", async () => {
  const p = await project();
  try {
    // The same address from the environment, and a malformed one.
    for (
      const [listen, why] of [["[::]:9090", /reachable beyond this machine/], [
        "9090",
        /not host:port/,
      ]] as const
    ) {
      const run = await whd(["serve", "--port", "0"], {
        cwd: p.dir,
        env: { ...p.env, WHD_ADMIN_LISTEN: listen },
      });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, why);
    }
    await configure(p.path("config/whd.yaml"), "admin:\n  listen: 0.0.0.0:9090\n");
    // WHD_ADMIN_LISTEN empty: the file's admin.listen applies (the test helper sets port 0).
    const env = { ...p.env, WHD_ADMIN_LISTEN: "" };
    for (const args of [["check"], ["serve", "--port", "0"]]) {
      const run = await whd(args, { cwd: p.dir, env });
      assert.equal(run.code, 2, `${args[0]}: ${run.stderr}`);
      assert.match(
        run.stderr,
        /admin\.listen.*0\.0\.0\.0:9090 is reachable beyond this machine and admin\.token_env is not set.*admin\.token_env.*127\.0\.0\.1/,
      );
      assert.doesNotMatch(run.stderr, /\n\s+at /);
    }
  } finally {
    await p.remove();
  }
});

Deno.test("admin: an admin port in use stops whd serve with exit 1, naming the address and the fix", async () => {
  const p = await project();
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const where = `127.0.0.1:${(held.addr as Deno.NetAddr).port}`;
    const run = await whd(["serve", "--port", "0"], {
      cwd: p.dir,
      env: { ...p.env, WHD_ADMIN_LISTEN: where },
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `cannot listen on ${where} \\(admin\\):.*choose another with admin\\.listen, or admin\\.listen: off`,
      ),
    );
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  } finally {
    held.close();
    await p.remove();
  }
});

Deno.test("admin: with a token every request needs Authorization: Bearer; the token is never printed", async () => {
  const p = await project({ log: { level: "debug" } });
  try {
    await configure(p.path("config/whd.yaml"), "admin:\n  token_env: WHD_ADMIN_TOKEN\n");
    // Unset or short: exit 2 naming the variable, never its value.
    for (const value of [undefined, "s3cr3t!x"]) {
      const env: Record<string, string> = { ...p.env };
      if (value) env.WHD_ADMIN_TOKEN = value;
      const run = await whd(["serve", "--port", "0"], { cwd: p.dir, env });
      assert.equal(run.code, 2, run.stderr);
      assert.match(
        run.stderr,
        /admin\.token_env names WHD_ADMIN_TOKEN, which is (not set|shorter than 16)/,
      );
      if (value) assert.ok(!run.stderr.includes(value));
    }
    const env = { ...p.env, WHD_ADMIN_TOKEN: TOKEN };
    const server = await startWhd([], { cwd: p.dir, env });
    try {
      const admin = adminUrl(server);
      for (const path of ["/healthz", "/readyz", "/metrics", "/nothing"]) {
        for (const auth of [undefined, "Bearer wrong", `Basic ${btoa(`x:${TOKEN}`)}`, TOKEN]) {
          const headers: Record<string, string> = auth ? { authorization: auth } : {};
          const response = await fetch(`${admin}${path}`, { headers });
          assert.equal(response.status, 401, `${path} with ${auth}`);
          assert.match(response.headers.get("www-authenticate")!, /^Bearer/);
          assert.ok(!(await response.text()).includes(TOKEN));
        }
      }
      const ok = await fetch(`${admin}/readyz`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      const metrics = await fetch(`${admin}/metrics`, {
        headers: { authorization: `bearer  ${TOKEN}` },
      });
      assert.equal(metrics.status, 200);
      await metrics.body?.cancel();
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
    assert.ok(!server.logs().includes(TOKEN), "the admin token was logged");
    assert.equal(leakIn(server.logs()), undefined);
    const check = await whd(["check"], { cwd: p.dir, env });
    assert.match(
      check.stdout,
      /admin listener: http:\/\/127\.0\.0\.1:0 \(console at \/, \/healthz, \/readyz, \/metrics\), bearer token required/,
    );
    assert.ok(!check.stdout.includes(TOKEN) && !check.stderr.includes(TOKEN));
  } finally {
    await p.remove();
  }
});

Deno.test("admin: whd check prints the listener; admin.listen: off turns it off", async () => {
  const p = await project();
  try {
    const env = { ...p.env, WHD_ADMIN_LISTEN: "" };
    const check = await whd(["check"], { cwd: p.dir, env });
    assert.match(
      check.stdout,
      /admin listener: http:\/\/127\.0\.0\.1:9090 \(console at \/, \/healthz, \/readyz, \/metrics\), loopback, no token/,
    );
    await configure(p.path("config/whd.yaml"), "admin:\n  listen: off\n");
    const off = await whd(["check", "--json"], { cwd: p.dir, env });
    assert.deepEqual(JSON.parse(off.stdout).admin, { listen: "off", token: false });
    const server = await startWhd([], { cwd: p.dir, env });
    try {
      assert.doesNotMatch(server.logs(), /admin listening/);
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
    } finally {
      assert.equal((await server.stop()).code, 0, server.logs());
    }
  } finally {
    await p.remove();
  }
});

Deno.test("admin: whd init writes a commented admin token and an admin block that checks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_admin_init_" });
  try {
    const init = await whd(["init", dir]);
    assert.equal(init.code, 0, init.stderr);
    const envText = await Deno.readTextFile(join(dir, "whd.env"));
    const token = /^# WHD_ADMIN_TOKEN=([0-9a-f]{64})$/m.exec(envText);
    assert.ok(token, envText);
    const yaml = await Deno.readTextFile(join(dir, "whd.yaml"));
    assert.match(yaml, /^admin:\n(.*\n)*? {2}listen: 127\.0\.0\.1:9090/m);
    assert.match(yaml, /^# token_env: WHD_ADMIN_TOKEN$/m);
    // Two inits never share a token.
    const other = await Deno.makeTempDir({ prefix: "whd_admin_init_" });
    try {
      assert.equal((await whd(["init", other])).code, 0);
      assert.ok(!(await Deno.readTextFile(join(other, "whd.env"))).includes(token[1]));
    } finally {
      await Deno.remove(other, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bearerMatches: exact token only, scheme case-insensitive", () => {
  assert.equal(bearerMatches(`Bearer ${TOKEN}`, TOKEN), true);
  assert.equal(bearerMatches(`bearer ${TOKEN}`, TOKEN), true);
  for (
    const header of [null, "", TOKEN, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, "Bearer "]
  ) {
    assert.equal(bearerMatches(header, TOKEN), false, String(header));
  }
});
