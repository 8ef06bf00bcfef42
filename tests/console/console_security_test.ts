/**
 * The console's defences against a real `whd serve`: the security headers (CSP) on the page,
 * assets, API answers and errors; CSRF (no token, wrong token, a cross-site Origin or
 * Sec-Fetch-Site) on every POST even on loopback without a token; the Host check against DNS
 * rebinding; off loopback the login form → HttpOnly SameSite=Strict session cookie, logout, and
 * the bearer token still working for the API and /metrics; no secret in any answer.
 */
import assert from "node:assert/strict";
import { adminUrlOf, consoleProject, SECRETS } from "./_console.ts";

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; " +
  "base-uri 'none'";

function assertSecurityHeaders(response: Response, what: string): void {
  assert.equal(response.headers.get("content-security-policy"), CSP, what);
  assert.equal(response.headers.get("x-content-type-options"), "nosniff", what);
  assert.equal(response.headers.get("referrer-policy"), "no-referrer", what);
  assert.equal(response.headers.get("cache-control"), "no-store", what);
}

/** A GET with a chosen Host header over a plain socket (fetch sets Host itself). */
async function rawGet(
  origin: string,
  path: string,
  host: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const url = new URL(origin);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`,
      ),
    );
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of conn.readable) text += decoder.decode(chunk, { stream: true });
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), text };
  } catch (error) {
    conn.close();
    throw error;
  }
}

Deno.test("console security (loopback, no token): headers on every answer, CSRF on every POST, Host check", async () => {
  const project = await consoleProject();
  try {
    const c = await project.start();
    try {
      assert.equal(await c.shop("ord_1", "order.failed"), 200);
      await c.until("/api/counts", (b) => b.dead === 1);

      // The page, its assets, API answers and errors all carry the headers.
      for (
        const [path, type] of [
          ["/", /^text\/html/],
          ["/assets/app.js", /^text\/javascript/],
          ["/assets/app.css", /^text\/css/],
          ["/api/counts", /^application\/json; charset=utf-8$/],
          ["/api/events/shop/none", /^application\/json/],
          ["/assets/nothing.js", /^application\/json/],
        ] as const
      ) {
        const response = await fetch(`${c.admin}${path}`);
        await response.body?.cancel();
        assertSecurityHeaders(response, path);
        assert.match(response.headers.get("content-type")!, type, path);
      }
      const page = await (await fetch(`${c.admin}/`)).text();
      assert.match(page, /<script type="module" src="\/assets\/app\.js"><\/script>/);
      assert.ok(!/<script>|<style>| style=| on[a-z]+=/i.test(page), "inline script or style");

      const session = await c.get("/api/session");
      assert.deepEqual(Object.keys(session.body).sort(), ["auth", "csrf"]);
      assert.equal(session.body.auth, "none");
      const csrf = session.body.csrf as string;
      assert.ok(csrf.length >= 32);

      // CSRF: every POST needs the token and a same-origin request.
      const attempts: [string, Record<string, string>][] = [
        ["no token", {}],
        ["wrong token", { "x-csrf-token": "not-the-token" }],
        ["cross-site Origin", { "x-csrf-token": csrf, origin: "http://evil.example" }],
        ["Origin null", { "x-csrf-token": csrf, origin: "null" }],
        ["cross-site fetch", { "x-csrf-token": csrf, "sec-fetch-site": "cross-site" }],
        ["same-site fetch", { "x-csrf-token": csrf, "sec-fetch-site": "same-site" }],
      ];
      for (const path of ["/api/events/shop/ord_1/retry", "/api/dead/retry"]) {
        for (const [what, headers] of attempts) {
          const response = await fetch(`${c.admin}${path}`, { method: "POST", headers });
          assert.equal(response.status, 403, `${path}: ${what}`);
          assertSecurityHeaders(response, what);
          assert.equal((await response.json()).error, "csrf");
        }
      }
      // Nothing was retried by the refused requests.
      const still = await c.get("/api/events/shop/ord_1");
      assert.equal(still.body.event.status, "dead");
      assert.equal(still.body.attempts.length, 1);
      // The right token from the same origin works.
      const ok = await fetch(`${c.admin}/api/events/shop/ord_1/retry`, {
        method: "POST",
        headers: { "x-csrf-token": csrf, origin: c.admin, "sec-fetch-site": "same-origin" },
      });
      assert.deepEqual([ok.status, await ok.json()], [200, { ok: true, status: "pending" }]);

      // DNS rebinding: an open console refuses a Host that is not a loopback name.
      for (
        const [host, status] of [
          ["evil.example", 421],
          ["evil.example:80", 421],
          ["localhost:1234", 200],
          ["127.0.0.1", 200],
        ] as const
      ) {
        const response = await rawGet(c.admin, "/api/counts", host);
        assert.equal(response.status, status, host);
        if (status === 421) assert.match(response.text, /"error":"bad_host"/);
      }
      // /metrics and /healthz stay as they were (no Host rule, no console headers needed).
      const metrics = await fetch(`${c.admin}/metrics`);
      assert.equal(metrics.status, 200);
      await metrics.body?.cancel();
    } finally {
      assert.equal((await c.server.stop()).code, 0);
    }
  } finally {
    await project.remove();
  }
});

Deno.test("console security (off loopback, token): login form, session cookie, logout, bearer", async () => {
  const project = await consoleProject({
    extraYaml: "admin:\n  listen: 0.0.0.0:0\n  token_env: WHD_ADMIN_TOKEN\n",
  });
  try {
    const c = await project.start({ WHD_ADMIN_LISTEN: "", WHD_ADMIN_TOKEN: SECRETS.ADMIN_TOKEN });
    try {
      const admin = adminUrlOf(c.server).replace("0.0.0.0", "127.0.0.1");
      const answers: string[] = [];
      const read = async (response: Response) => {
        const text = await response.text();
        answers.push(text);
        return text;
      };
      assert.equal(await c.shop("ord_1", "order.created"), 200);

      // Without a session: the login page at /, 401 for everything else.
      const login = await fetch(`${admin}/`);
      assert.equal(login.status, 200);
      assertSecurityHeaders(login, "login page");
      const form = await read(login);
      assert.match(form, /<form method="post" action="\/login">/);
      assert.match(form, /name="token"/);
      for (const path of ["/api/events", "/api/session", "/assets/app.js", "/api/stream", "/x"]) {
        const response = await fetch(`${admin}${path}`);
        assert.equal(response.status, 401, path);
        assertSecurityHeaders(response, path);
        await read(response);
      }

      // A wrong token: 401 and the form again with a message; no cookie.
      const wrong = await fetch(`${admin}/login`, {
        method: "POST",
        body: new URLSearchParams({ token: "not-the-admin-token-at-all" }),
        redirect: "manual",
      });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.headers.get("set-cookie"), null);
      assert.match(await read(wrong), /not the admin token/);
      // A login posted from another site is refused (login CSRF).
      const crossSite = await fetch(`${admin}/login`, {
        method: "POST",
        headers: { origin: "http://evil.example" },
        body: new URLSearchParams({ token: SECRETS.ADMIN_TOKEN }),
        redirect: "manual",
      });
      assert.equal(crossSite.status, 403);
      assert.equal(crossSite.headers.get("set-cookie"), null);
      await read(crossSite);

      // The right token: 303 to / with an HttpOnly, SameSite=Strict session cookie. (Chromium
      // posts the form of a no-referrer page with Origin null and Sec-Fetch-Site same-origin.)
      const right = await fetch(`${admin}/login`, {
        method: "POST",
        headers: { origin: "null", "sec-fetch-site": "same-origin" },
        body: new URLSearchParams({ token: SECRETS.ADMIN_TOKEN }),
        redirect: "manual",
      });
      assert.equal(right.status, 303);
      assert.equal(right.headers.get("location"), "/");
      const cookie = right.headers.get("set-cookie")!;
      assert.match(cookie, /^whd_session=[A-Za-z0-9_-]{40,}; HttpOnly; SameSite=Strict; Path=\//);
      assert.ok(!/Secure/.test(cookie), "no Secure over plain http");
      assert.ok(!cookie.includes(SECRETS.ADMIN_TOKEN));
      await read(right);
      const session = { cookie: cookie.split(";")[0] };

      // With the cookie: the page, the API, and POSTs with the session's CSRF token.
      const pageResponse = await fetch(`${admin}/`, { headers: session });
      assert.match(await read(pageResponse), /\/assets\/app\.js/);
      const info = await fetch(`${admin}/api/session`, { headers: session });
      const { csrf, auth } = JSON.parse(await read(info));
      assert.equal(auth, "token");
      const events = await fetch(`${admin}/api/events`, { headers: session });
      assert.equal(JSON.parse(await read(events)).events.length, 1);
      await c.until("/api/counts", (b) => b.done === 1, SECRETS.ADMIN_TOKEN);
      const noCsrf = await fetch(`${admin}/api/events/shop/ord_1/replay`, {
        method: "POST",
        headers: session,
      });
      assert.equal(noCsrf.status, 403);
      await read(noCsrf);
      const replay = await fetch(`${admin}/api/events/shop/ord_1/replay`, {
        method: "POST",
        headers: { ...session, "x-csrf-token": csrf, origin: admin },
      });
      assert.equal(replay.status, 200, await read(replay));

      // With a token, a reverse proxy's public name is a fine Host (no rebinding without it).
      const proxied = await rawGet(admin, "/api/counts", "whd.example.com", {
        authorization: `Bearer ${SECRETS.ADMIN_TOKEN}`,
      });
      assert.equal(proxied.status, 200);
      const proxiedAnon = await rawGet(admin, "/api/counts", "whd.example.com");
      assert.equal(proxiedAnon.status, 401);

      // The bearer token still works for the API (with the process CSRF token) and /metrics.
      const bearer = { authorization: `Bearer ${SECRETS.ADMIN_TOKEN}` };
      const viaBearer = await fetch(`${admin}/api/session`, { headers: bearer });
      const bearerCsrf = JSON.parse(await read(viaBearer)).csrf;
      assert.notEqual(bearerCsrf, csrf);
      const metrics = await fetch(`${admin}/metrics`, { headers: bearer });
      assert.equal(metrics.status, 200);
      await metrics.body?.cancel();
      // The session cookie is for the console only: /metrics still wants the bearer token.
      const metricsByCookie = await fetch(`${admin}/metrics`, { headers: session });
      assert.equal(metricsByCookie.status, 401);
      await read(metricsByCookie);

      // Logout without a session (bearer only) has nothing to end, and says so.
      const noSession = await fetch(`${admin}/logout`, {
        method: "POST",
        headers: { ...bearer, "x-csrf-token": bearerCsrf },
        redirect: "manual",
      });
      assert.equal(noSession.status, 403);
      assert.match(JSON.parse(await read(noSession)).message, /no login session to end/);
      // A session without its CSRF token cannot log out.
      const logoutNoCsrf = await fetch(`${admin}/logout`, {
        method: "POST",
        headers: { ...session, origin: admin },
        redirect: "manual",
      });
      assert.equal(logoutNoCsrf.status, 403);
      assert.match(JSON.parse(await read(logoutNoCsrf)).message, /console's own page/);

      // Logout ends the session: the cookie no longer opens anything.
      const logout = await fetch(`${admin}/logout`, {
        method: "POST",
        headers: { ...session, "x-csrf-token": csrf, origin: admin },
        redirect: "manual",
      });
      assert.equal(logout.status, 303);
      assert.match(logout.headers.get("set-cookie")!, /^whd_session=; .*Max-Age=0/);
      await read(logout);
      const after = await fetch(`${admin}/api/events`, { headers: session });
      assert.equal(after.status, 401);
      await read(after);
      const loginAgain = await fetch(`${admin}/`, { headers: session });
      assert.match(await read(loginAgain), /action="\/login"/);

      // Behind a TLS proxy (X-Forwarded-Proto: https) the cookie is Secure.
      const secure = await fetch(`${admin}/login`, {
        method: "POST",
        headers: { "x-forwarded-proto": "https" },
        body: new URLSearchParams({ token: SECRETS.ADMIN_TOKEN }),
        redirect: "manual",
      });
      assert.match(secure.headers.get("set-cookie")!, /; Secure$/);
      await read(secure);

      for (const text of [...answers, ...c.answers]) {
        for (const secret of Object.values(SECRETS)) {
          assert.ok(!text.includes(secret), `a secret in an answer: ${text.slice(0, 200)}`);
        }
      }
    } finally {
      assert.equal((await c.server.stop()).code, 0);
    }
    assert.ok(!c.server.logs().includes(SECRETS.ADMIN_TOKEN), "the admin token was logged");
  } finally {
    await project.remove();
  }
});
