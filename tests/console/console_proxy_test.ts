/**
 * The console behind a real nginx, configured as the README says (`proxy_set_header Host $host`,
 * `X-Forwarded-Proto $scheme`), reached under a public name: with a token, the login form, a
 * Retry posted from that origin, and the live stream (its first change arrives at once) work; the
 * same public name on an open console (no token) is refused.
 */
import assert from "node:assert/strict";
import { type Nginx, startNginx } from "../helpers/nginx.ts";
import { consoleProject, SECRETS } from "./_console.ts";

const PUBLIC = "console.example.com";

/** One HTTP/1.1 exchange over a socket, Host chosen; reads until `until` is seen or it closes. */
async function exchange(
  port: number,
  request: { method?: string; path: string; headers?: Record<string, string>; body?: string },
  until?: string,
): Promise<{ status: number; headers: Headers; text: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const body = request.body ?? "";
  const headers = {
    host: PUBLIC,
    connection: "close",
    ...(body ? { "content-length": String(new TextEncoder().encode(body).length) } : {}),
    ...request.headers,
  };
  const head = `${request.method ?? "GET"} ${request.path} HTTP/1.1\r\n` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
  let text = "";
  // A stream that never shows `until` (a buffering proxy) fails the test instead of hanging it.
  const timer = setTimeout(() => conn.close(), 10_000);
  try {
    await conn.write(new TextEncoder().encode(head + body));
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16384);
    while (until === undefined || !text.includes(until)) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
  const [top, ...rest] = text.split("\r\n\r\n");
  const [statusLine, ...lines] = top.split("\r\n");
  const parsed = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    parsed.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine.split(" ")[1]), headers: parsed, text: rest.join("\r\n\r\n") };
}

/** Starts nginx in front of `upstream` on a free port, as the README configures it. */
async function proxy(dir: string, upstream: string): Promise<Nginx & { port: number }> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const nginx = await startNginx(
    dir,
    `    server {
        listen 127.0.0.1:${port};
        server_name ${PUBLIC};
        location / {
            proxy_pass ${upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
    }`,
    port,
  );
  return { ...nginx, port };
}

function skipWithoutNginx(): boolean {
  try {
    new Deno.Command("nginx", { args: ["-v"], stdout: "null", stderr: "null" }).outputSync();
    return false;
  } catch {
    console.warn("nginx is not installed: skipped");
    return true;
  }
}

Deno.test("console behind nginx under a public name with a token: login, Retry, the live stream", async () => {
  if (skipWithoutNginx()) return;
  const project = await consoleProject({ extraYaml: "admin:\n  token_env: WHD_ADMIN_TOKEN\n" });
  try {
    const c = await project.start({ WHD_ADMIN_TOKEN: SECRETS.ADMIN_TOKEN });
    const nginx = await proxy(project.dir, c.admin);
    try {
      assert.equal(await c.shop("ord_1", "order.failed"), 200);
      await c.until("/api/counts", (b) => b.dead === 1, SECRETS.ADMIN_TOKEN);
      const origin = `http://${PUBLIC}`;

      const page = await exchange(nginx.port, { path: "/" });
      assert.equal(page.status, 200);
      assert.match(page.text, /action="\/login"/);
      assert.ok(page.headers.get("content-security-policy"));

      const login = await exchange(nginx.port, {
        method: "POST",
        path: "/login",
        headers: { origin, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: SECRETS.ADMIN_TOKEN }).toString(),
      });
      assert.equal(login.status, 303, login.text);
      const cookie = login.headers.get("set-cookie")!.split(";")[0];
      assert.match(cookie, /^whd_session=/);

      const session = await exchange(nginx.port, { path: "/api/session", headers: { cookie } });
      const { csrf } = JSON.parse(session.text);
      const retry = await exchange(nginx.port, {
        method: "POST",
        path: "/api/events/shop/ord_1/retry",
        headers: { cookie, origin, "x-csrf-token": csrf },
      });
      assert.equal(retry.status, 200, retry.text);
      assert.deepEqual(JSON.parse(retry.text), { ok: true, status: "pending" });
      // Posted from another site through the same proxy: refused.
      const forged = await exchange(nginx.port, {
        method: "POST",
        path: "/api/events/shop/ord_1/retry",
        headers: { cookie, origin: "http://evil.example", "x-csrf-token": csrf },
      });
      assert.equal(forged.status, 403);

      // The stream's first change comes through the proxy at once.
      const stream = await exchange(
        nginx.port,
        { path: "/api/stream", headers: { cookie } },
        '"counts"',
      );
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get("content-type")!, /^text\/event-stream/);
      assert.match(stream.text, /event: change\r?\ndata: \{"counts"/);
    } finally {
      await nginx.stop();
      assert.equal((await c.server.stop()).code, 0);
    }
  } finally {
    await project.remove();
  }
});

Deno.test("an open console (no token) behind a proxy under a public name is refused (421)", async () => {
  if (skipWithoutNginx()) return;
  const project = await consoleProject();
  try {
    const c = await project.start();
    const nginx = await proxy(project.dir, c.admin);
    try {
      for (const path of ["/", "/api/events", "/assets/app.js"]) {
        const answer = await exchange(nginx.port, { path });
        assert.equal(answer.status, 421, path);
        assert.match(answer.text, /"error":"bad_host"/);
      }
    } finally {
      await nginx.stop();
      assert.equal((await c.server.stop()).code, 0);
    }
  } finally {
    await project.remove();
  }
});
