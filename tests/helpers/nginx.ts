/**
 * A real nginx for tests that put whd behind a proxy: its own prefix, temp dirs and pid under a
 * test's temp dir, in the foreground, logging to stderr.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";

/** A running nginx; `stop()` ends it and asserts it stopped cleanly (its log in the message). */
export interface Nginx {
  stop(): Promise<void>;
}

/**
 * Writes `dir/nginx.conf` with `http` (directives, e.g. a `server` block or an `include`) inside
 * its `http` block, checks it with `nginx -t`, starts nginx and waits until `port` accepts.
 */
export async function startNginx(dir: string, http: string, port: number): Promise<Nginx> {
  await Deno.writeTextFile(
    join(dir, "nginx.conf"),
    `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
${http}
}
`,
  );
  const args = ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", "stderr"];
  const test = await new Deno.Command("nginx", { args: [...args, "-t"] }).output();
  assert.equal(test.code, 0, new TextDecoder().decode(test.stderr));

  const child = new Deno.Command("nginx", { args, stdout: "null", stderr: "piped" }).spawn();
  let log = "";
  const pumping = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) log += decoder.decode(chunk, { stream: true });
  })();
  const stop = async () => {
    child.kill("SIGTERM");
    const status = await child.status;
    await pumping;
    assert.ok(status.success, `nginx did not stop cleanly:\n${log}`);
  };
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { stop };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stop().catch(() => {});
  throw new Error(`nginx does not listen on ${port}:\n${log}`);
}
