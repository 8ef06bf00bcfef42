/**
 * Store trouble against a real `whd serve`: another process holding an exclusive lock for 15 s
 * (as a backup does), the database file turning read-only (immutable) while whd runs, and a full
 * disk (a 2 MiB tmpfs). Each: deliveries get 503 + Retry-After within the store deadline,
 * `/healthz` stays instant, `/readyz` names the trouble, whd recovers by itself once it is
 * repaired, and every acknowledged event is stored. See `_store.ts` for what is checked.
 */
import { IS_ROOT, sqlite, storeTrouble } from "./_store.ts";
import type { Project } from "./_project.ts";

const NOT_ROOT = "needs root (chattr +i, mount -t tmpfs); run the suite as root to include it";

Deno.test("store: an exclusive lock held 15 s by sqlite3 → 503 meanwhile, recovery, nothing lost", async () => {
  let locker: Deno.ChildProcess | undefined;
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  let drain: Promise<void> | undefined;
  const text = (s: string) => new TextEncoder().encode(s);
  const report = await storeTrouble({
    async breakStore(p: Project) {
      locker = new Deno.Command("sqlite3", {
        args: [p.path("data/whd.db")],
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      writer = locker.stdin.getWriter();
      // whd writes all the time: wait for its lock, then say so once ours is held.
      await writer.write(text(".timeout 5000\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n"));
      const reader = locker.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("locked")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("sqlite3 could not take the lock");
        seen += value;
      }
      drain = (async () => {
        while (!(await reader.read()).done) { /* until sqlite3 exits */ }
      })();
    },
    async repair() {
      await writer!.write(text("ROLLBACK;\n.quit\n"));
      await writer!.close();
      await drain;
      await locker!.status;
    },
    problems: ["locked"],
    holdMs: 15_000,
  });
  console.log("lock 15 s:", JSON.stringify(report));
});

async function chattr(flag: "+i" | "-i", files: string[]): Promise<void> {
  const existing = files.filter((f) => {
    try {
      return Deno.statSync(f).isFile;
    } catch {
      return false;
    }
  });
  const out = await new Deno.Command("chattr", { args: [flag, ...existing] }).output();
  if (out.code !== 0) {
    throw new Error(`chattr ${flag} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

Deno.test({
  name: "store: the database file turns read-only (immutable) while running → 503, recovery",
  ignore: !IS_ROOT,
  async fn() {
    // Root ignores file modes, and an open file keeps its access: chattr +i makes every write
    // fail (EPERM), as a read-only mount would. The -shm index stays writable (it is mapped;
    // a read-only mapping would be a different failure: SQLite then cannot open at all).
    const files = (p: Project) => ["", "-wal"].map((s) => p.path(`data/whd.db${s}`));
    const report = await storeTrouble({
      breakStore: (p) => chattr("+i", files(p)),
      repair: (p) => chattr("-i", files(p)),
      cleanup: (p) => chattr("-i", files(p)).catch(() => {}),
      problems: ["read-only", "io-error"],
      holdMs: 1_500,
    });
    console.log("read-only:", JSON.stringify(report));
  },
});

Deno.test({
  name: "store: a full disk (2 MiB tmpfs) → 503, recovery once space is freed, nothing lost",
  ignore: !IS_ROOT,
  async fn() {
    let mounted = false;
    const report = await storeTrouble({
      async prepare(p) {
        await Deno.mkdir(p.path("data"), { recursive: true });
        const out = await new Deno.Command("mount", {
          args: ["-t", "tmpfs", "-o", "size=2m", "tmpfs", p.path("data")],
        }).output();
        if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
        mounted = true;
      },
      async breakStore(p) {
        // Fill what is left; the WAL then cannot grow.
        using file = await Deno.open(p.path("data/filler"), { write: true, create: true });
        const chunk = new Uint8Array(64 * 1024);
        try {
          while (true) await file.write(chunk);
        } catch { /* ENOSPC: full */ }
        const small = new Uint8Array(512);
        try {
          while (true) await file.write(small);
        } catch { /* full to the last block */ }
      },
      repair: (p) => Deno.remove(p.path("data/filler")),
      async cleanup(p) {
        if (!mounted) return;
        // The rows were checked by the scenario; unmount so the temp dir can go.
        await sqlite(p.path("data/whd.db"), "SELECT 1").catch(() => {});
        await new Deno.Command("umount", { args: [p.path("data")] }).output();
      },
      problems: ["full"],
      holdMs: 1_500,
    });
    console.log("full disk:", JSON.stringify(report));
  },
});

if (!IS_ROOT) console.log(`store: read-only and full-disk tests skipped: ${NOT_ROOT}`);
