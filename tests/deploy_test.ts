/**
 * The files in deploy/ checked by the tools operators run them with: `systemd-analyze verify`
 * on the unit, real nginx (TLS) in front of a real `whd serve` with forwarded addresses, and
 * Caddy's own validation of the Caddyfile (plus Caddy proxying for real).
 *
 * A test whose tool is not installed is skipped with a message saying which command is missing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sign } from "@octokit/webhooks-methods";
import { startNginx } from "./helpers/nginx.ts";
import { REPO, startWhd, whd, type WhdServer } from "./helpers/whd_process.ts";

const UNIT = await Deno.readTextFile(join(REPO, "deploy", "whd.service"));
const NGINX = await Deno.readTextFile(join(REPO, "deploy", "nginx.conf"));
const CADDYFILE_PATH = join(REPO, "deploy", "Caddyfile");

/** The path of `command` on PATH, or undefined. */
function which(command: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const path = join(dir, command);
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

function skipWithout(command: string): boolean {
  if (which(command)) return false;
  console.warn(`skipped: \`${command}\` is not installed (install it to run this test)`);
  return true;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "whd_deploy_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `[Service]` (etc.) key=value pairs of a unit file; a repeated key keeps its last value. */
function unitKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) keys.set(match[1], match[2]);
  }
  return keys;
}

/** A stand-in executable for ExecStart (verify checks that the binary exists). */
async function fakeBinary(dir: string): Promise<string> {
  const bin = join(dir, "whd-bin");
  await Deno.writeTextFile(bin, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  return bin;
}

/** Runs `systemd-analyze verify` on `text` saved as DIR/whd.service; returns its complaints. */
async function verifyUnit(
  dir: string,
  text: string,
): Promise<{ code: number; complaints: string }> {
  const path = join(dir, "whd.service");
  await Deno.writeTextFile(path, text);
  const result = await run("systemd-analyze", ["verify", path]);
  // Warnings (unknown keys, bad values) go to stderr with exit 0: count them as failures.
  const complaints = (result.stdout + result.stderr).split("\n")
    .filter((line) => line.includes("whd.service") || line.includes(dir)).join("\n");
  return { code: result.code, complaints };
}

function seconds(value: string): number {
  const match = /^(\d+)(s|min)?$/.exec(value);
  assert.ok(match, `a duration in seconds or minutes: ${value}`);
  return Number(match[1]) * (match[2] === "min" ? 60 : 1);
}

Deno.test("deploy/whd.service has the directives an operator expects", () => {
  const keys = unitKeys(UNIT);
  assert.equal(keys.get("User"), "whd");
  assert.equal(keys.get("StateDirectory"), "whd");
  assert.equal(keys.get("WorkingDirectory"), "/opt/whd");
  assert.equal(keys.get("EnvironmentFile"), "/opt/whd/whd.env");
  assert.equal(keys.get("ExecStart"), "/usr/local/bin/whd serve --config /opt/whd/whd.yaml");
  assert.equal(keys.get("LimitNOFILE"), "65536");
  assert.equal(keys.get("NoNewPrivileges"), "yes");
  assert.equal(keys.get("ProtectSystem"), "strict");
  assert.equal(keys.get("ProtectHome"), "yes");
  assert.equal(keys.get("PrivateTmp"), "yes");
  assert.equal(keys.get("Restart"), "on-failure");
  assert.equal(keys.get("RestartPreventExitStatus"), "2");
  // Above handlers.shutdown_grace_ms (10 s by default), so handlers get their grace.
  assert.ok(seconds(keys.get("TimeoutStopSec")!) > 10);
  // The database's place: the state directory, named absolutely in the advice.
  assert.match(UNIT, /file:\/var\/lib\/whd\/whd\.db/);
});

Deno.test("exit 2 (RestartPreventExitStatus) is what whd serve returns for an invalid config", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "bad.yaml"), "server:\n  prot: 8080\nproviders: {}\n");
    const serve = await whd(["serve", "--config", join(dir, "bad.yaml")], { cwd: dir });
    assert.equal(serve.code, 2, serve.stderr);
  });
});

Deno.test("systemd-analyze verify accepts deploy/whd.service and init's whd.service", async () => {
  if (skipWithout("systemd-analyze")) return;
  await withTempDir(async (dir) => {
    const bin = await fakeBinary(dir);
    const shipped = UNIT.replaceAll("/usr/local/bin/whd", bin);
    assert.notEqual(shipped, UNIT);
    const verified = await verifyUnit(dir, shipped);
    assert.equal(verified.code, 0, verified.complaints);
    assert.equal(verified.complaints, "");

    // The check has teeth: a misspelled directive is reported.
    const typo = await verifyUnit(dir, shipped.replace("ProtectHome=", "ProtectHoem="));
    assert.match(typo.complaints, /Unknown key.*ProtectHoem/);

    const site = join(dir, "site");
    const init = await whd(["init", site, "--bin", bin]);
    assert.equal(init.code, 0, init.stderr);
    const written = await Deno.readTextFile(join(site, "whd.service"));
    assert.equal(unitKeys(written).get("ExecStart"), `${bin} serve --config ${site}/whd.yaml`);
    const fromInit = await verifyUnit(dir, written);
    assert.equal(fromInit.code, 0, fromInit.complaints);
    assert.equal(fromInit.complaints, "");

    // Paths with a space and a % (systemd's specifier character) are quoted and escaped:
    // verify finds the binary only if ExecStart names it correctly.
    const odd = join(dir, "odd dir%1");
    await Deno.mkdir(odd);
    const oddBin = join(odd, "whd 50%");
    await Deno.copyFile(bin, oddBin);
    await Deno.chmod(oddBin, 0o755);
    const oddInit = await whd(["init", join(odd, "site"), "--bin", oddBin]);
    assert.equal(oddInit.code, 0, oddInit.stderr);
    const oddUnit = await Deno.readTextFile(join(odd, "site", "whd.service"));
    const oddVerified = await verifyUnit(dir, oddUnit);
    assert.equal(oddVerified.code, 0, oddVerified.complaints);
    assert.equal(oddVerified.complaints, "");
  });
});

/** A TCP port that was free a moment ago (for servers that cannot report theirs). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitForPort(port: number, what: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listens on ${port}:\n${what()}`);
}

/** Starts whd behind a proxy: trusted_proxies 127.0.0.1, only 203.0.113.7 allowed. */
async function startProxiedWhd(dir: string): Promise<WhdServer> {
  await Deno.mkdir(join(dir, "handlers"));
  await Deno.writeTextFile(
    join(dir, "whd.yaml"),
    [
      "server:",
      "  host: 127.0.0.1",
      "  trusted_proxies: [127.0.0.1]",
      "database:",
      `  url: file:${dir}/whd.db`,
      "handlers:",
      `  dir: ${dir}/handlers`,
      "ip_allowlist: [203.0.113.7]",
      "providers:",
      "  github:",
      "    webhooks:",
      "      default:",
      "        path: /webhooks/github",
      "        signing_secret_env: GITHUB_WEBHOOK_SECRET",
      "",
    ].join("\n"),
  );
  return await startWhd(["--config", join(dir, "whd.yaml")], {
    cwd: dir,
    env: { GITHUB_WEBHOOK_SECRET: SECRET },
  });
}

const SECRET = "deploy-test-secret";

async function githubDelivery(
  url: string,
  headers: Record<string, string>,
  client?: Deno.HttpClient,
): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({ zen: "x", hook_id: 1, ref: "refs/heads/main" });
  const response = await fetch(url, {
    method: "POST",
    client,
    redirect: "manual",
    headers: {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": await sign(SECRET, body),
      ...headers,
    },
    body,
  });
  return { status: response.status, body: await response.text() };
}

/** A test CA (ca.pem) and a certificate for 127.0.0.1 it signed (cert.pem, key.pem). */
async function makeCertificate(dir: string): Promise<void> {
  const at = (name: string) => join(dir, name);
  const steps = [
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=whd test CA"]
      .concat(["-keyout", at("ca.key"), "-out", at("ca.pem")]),
    ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=hooks.example.com"]
      .concat(["-keyout", at("key.pem"), "-out", at("cert.csr")]),
    ["x509", "-req", "-in", at("cert.csr"), "-CA", at("ca.pem"), "-CAkey", at("ca.key")]
      .concat(["-CAcreateserial", "-days", "1", "-out", at("cert.pem"), "-extfile", at("san")]),
  ];
  await Deno.writeTextFile(at("san"), "subjectAltName=DNS:hooks.example.com,IP:127.0.0.1\n");
  for (const args of steps) {
    const result = await run("openssl", args);
    assert.equal(result.code, 0, result.stderr);
  }
}

/** deploy/nginx.conf with loopback ports, the test's certificate and whd's port. */
function nginxSite(ports: { http: number; tls: number; whd: number }, dir: string): string {
  const substitutions: [string | RegExp, string][] = [
    ["server 127.0.0.1:8080;", `server 127.0.0.1:${ports.whd};`],
    ["listen 80;", `listen 127.0.0.1:${ports.http};`],
    ["listen 443 ssl http2;", `listen 127.0.0.1:${ports.tls} ssl http2;`],
    [/^ *listen \[::\]:.*\n/gm, ""], // IPv6 listeners: not needed on loopback
    ["/etc/letsencrypt/live/hooks.example.com/fullchain.pem", join(dir, "cert.pem")],
    ["/etc/letsencrypt/live/hooks.example.com/privkey.pem", join(dir, "key.pem")],
  ];
  let text = NGINX;
  for (const [from, to] of substitutions) {
    const before = text;
    text = typeof from === "string" ? text.replace(from, to) : text.replace(from, to);
    assert.notEqual(text, before, `deploy/nginx.conf still contains ${from}`);
  }
  return text;
}

Deno.test("nginx (deploy/nginx.conf, TLS) in front of whd: the forwarded address decides", async () => {
  if (skipWithout("nginx") || skipWithout("openssl")) return;
  await withTempDir(async (dir) => {
    await makeCertificate(dir);

    const server = await startProxiedWhd(dir);
    const ports = { http: freePort(), tls: freePort(), whd: server.port };
    await Deno.writeTextFile(join(dir, "whd.conf"), nginxSite(ports, dir));
    // All clients are 127.0.0.1 here, so nginx's realip module takes the client's address from
    // an X-Test-Client header instead: it stands in for clients elsewhere on the internet, and
    // $proxy_add_x_forwarded_for appends that address, as it appends a real peer's.
    const nginx = await startNginx(
      dir,
      `    set_real_ip_from 127.0.0.1;
    real_ip_header X-Test-Client;
    include ${dir}/whd.conf;`,
      ports.tls,
    );
    const client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(join(dir, "ca.pem"))],
    });
    try {
      const url = `https://127.0.0.1:${ports.tls}/webhooks/github`;

      const allowed = await githubDelivery(url, { "x-test-client": "203.0.113.7" }, client);
      assert.equal(allowed.status, 200, allowed.body);
      assert.deepEqual(JSON.parse(allowed.body), { received: true });

      const stranger = await githubDelivery(url, { "x-test-client": "198.51.100.9" }, client);
      assert.equal(stranger.status, 403, stranger.body);

      // A stranger who writes the allowlisted address into X-Forwarded-For itself is still
      // refused: nginx appends the real address and whd believes only that last hop.
      const forged = await githubDelivery(url, {
        "x-test-client": "198.51.100.9",
        "x-forwarded-for": "203.0.113.7",
      }, client);
      assert.equal(forged.status, 403, forged.body);

      // Plain HTTP redirects to https.
      const plain = await fetch(`http://127.0.0.1:${ports.http}/webhooks/github`, {
        redirect: "manual",
      });
      assert.equal(plain.status, 301);
      assert.match(plain.headers.get("location") ?? "", /^https:\/\//);
      await plain.body?.cancel();
    } finally {
      client.close();
      await nginx.stop();
      await server.stop();
    }
    assert.match(server.logs(), /198\.51\.100\.9/); // the refused address is what whd logged
    const events = await whd(["events", "list", "--json", "--config", join(dir, "whd.yaml")], {
      cwd: dir,
    });
    assert.equal(events.code, 0, events.stderr);
    assert.equal(JSON.parse(events.stdout).length, 1); // only the allowlisted delivery
  });
});

Deno.test("caddy validate accepts deploy/Caddyfile", async () => {
  if (skipWithout("caddy")) return;
  await withTempDir(async (dir) => {
    const env = { HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir, PATH: "/usr/bin:/bin" };
    const ok = await run("caddy", [
      "validate",
      "--config",
      CADDYFILE_PATH,
      "--adapter",
      "caddyfile",
    ], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout + ok.stderr, /Valid configuration/);

    // The check has teeth: a misspelled directive is an error.
    const broken = join(dir, "Caddyfile");
    await Deno.writeTextFile(
      broken,
      (await Deno.readTextFile(CADDYFILE_PATH)).replace("reverse_proxy", "reverse_proxi"),
    );
    const bad = await run("caddy", ["validate", "--config", broken, "--adapter", "caddyfile"], env);
    assert.notEqual(bad.code, 0);
  });
});

Deno.test("caddy (deploy/Caddyfile) in front of whd replaces a client's forged X-Forwarded-For", async () => {
  if (skipWithout("caddy")) return;
  await withTempDir(async (dir) => {
    const server = await startProxiedWhd(dir);
    const port = freePort();
    const shipped = await Deno.readTextFile(CADDYFILE_PATH);
    // Plain HTTP on a loopback port (no certificate), whd's port, no admin endpoint.
    const site = shipped
      .replace("hooks.example.com {", `{\n\tadmin off\n}\n\nhttp://127.0.0.1:${port} {`)
      .replace("reverse_proxy 127.0.0.1:8080", `reverse_proxy 127.0.0.1:${server.port}`);
    assert.notEqual(site.indexOf(`127.0.0.1:${server.port}`), -1);
    await Deno.writeTextFile(join(dir, "Caddyfile"), site);
    const caddy = new Deno.Command("caddy", {
      args: ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"],
      env: { HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let caddyLog = "";
    const pumping = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of caddy.stderr) caddyLog += decoder.decode(chunk);
    })();
    try {
      await waitForPort(port, () => caddyLog);
      // The client (127.0.0.1) claims to be the allowlisted 203.0.113.7. Caddy drops that
      // header and sends its peer's address, so whd sees 127.0.0.1, which is not allowed.
      const forged = await githubDelivery(`http://127.0.0.1:${port}/webhooks/github`, {
        "x-forwarded-for": "203.0.113.7",
      });
      assert.equal(forged.status, 403, forged.body);
      // Sent to whd directly, the same header is believed (its peer 127.0.0.1 is a trusted
      // proxy): the 403 above came from Caddy replacing the header.
      const direct = await githubDelivery(`${server.url}/webhooks/github`, {
        "x-forwarded-for": "203.0.113.7",
      });
      assert.equal(direct.status, 200, direct.body);
    } finally {
      caddy.kill("SIGTERM");
      await caddy.status;
      await pumping;
      await server.stop();
    }
  });
});

Deno.test("the README shows deploy/whd.service as it is, and no other whd.service", async () => {
  const readme = await Deno.readTextFile(join(REPO, "README.md"));
  const units = [...readme.matchAll(/```ini\n([\s\S]*?)```/g)].map((m) => m[1])
    .filter((block) => /ExecStart=\S+ serve/.test(block));
  assert.deepEqual(units, [UNIT]);
});
