/**
 * A {@linkcode Bundler} that bundles in a child process (`whd __bundler`,
 * `bundler_process_main.ts`) started on first use and stopped by `close()`: esbuild-wasm takes
 * about 200 MB while it works, and only a process that exits gives all of it back (a worker
 * left ~120 MB in whd's allocator for good).
 *
 * This module does not load esbuild into whd's own isolate. When the process cannot be started
 * (no executable to run), it bundles in-process instead: slower to give memory back, never a
 * load error of its own. A process that dies fails the bundles it had with an error saying so;
 * the next `bundle()` starts a new one.
 *
 * @example
 * ```ts ignore
 * const bundler = createProcessBundler();
 * const registry = await loadRegistry("handlers", bundler);
 * await bundler.close(); // the process and its memory are gone; the next bundle() starts anew
 * ```
 * @module
 */
import { pumpLines } from "./child_io.ts";
import type { BundleReply, BundleRequest } from "./bundler_process_main.ts";
import type { BundleOptions, Bundler, BundleResult } from "./bundler.ts";
import { type HostCommand, whdCommand } from "./host_command.ts";

/** A bundler whose process can be let go between uses. */
export interface ClosableBundler extends Bundler {
  /** Stops the process (bundles in flight fail); resolves once it has exited. */
  close(): Promise<void>;
  /** The bundler process's id while one runs. */
  readonly pid: number | undefined;
}

/** Options for {@linkcode createProcessBundler}. */
export interface ProcessBundlerOptions {
  /** How to start the process. Default {@linkcode whdCommand}(`["__bundler"]`). */
  command?: HostCommand;
}

interface _Child {
  process: Deno.ChildProcess;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  waiting: Map<number, (result: BundleResult) => void>;
}

/**
 * V8 flags of the bundler process: esbuild's wasm runs on V8's baseline compiler only (measured
 * with the example handlers: 124 MB peak instead of 222 MB, 383 ms instead of 506 ms, since
 * V8 no longer recompiles the 11 MB module in the background), after the user's own flags.
 */
function _v8Flags(user: string | undefined): string {
  return user ? `${user},--liftoff-only` : "--liftoff-only";
}

/** The stderr kept to explain a bundler process that died. */
const _STDERR_TAIL = 2000;

/** Creates a bundler that runs esbuild in a child process. */
export function createProcessBundler(options: ProcessBundlerOptions = {}): ClosableBundler {
  const command = options.command ?? whdCommand(["__bundler"]);
  const encoder = new TextEncoder();
  let child: _Child | undefined;
  let fallback: Promise<Bundler> | undefined;
  let nextId = 1;

  const fail = (c: _Child, error: string) => {
    for (const settle of c.waiting.values()) settle({ ok: false, error });
    c.waiting.clear();
  };

  const start = (): _Child => {
    const process = new Deno.Command(command.command, {
      args: command.args,
      env: { DENO_V8_FLAGS: _v8Flags(Deno.env.get("DENO_V8_FLAGS")) },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const c: _Child = { process, writer: process.stdin.getWriter(), waiting: new Map() };
    let stderr = "";
    const out = pumpLines(process.stdout, (line) => {
      if (line.trim() === "") return;
      let reply: BundleReply;
      try {
        reply = JSON.parse(line);
      } catch {
        return;
      }
      c.waiting.get(reply.id)?.(reply.result);
      c.waiting.delete(reply.id);
    });
    const err = pumpLines(process.stderr, (line) => {
      stderr = (stderr + line + "\n").slice(-_STDERR_TAIL);
    });
    process.status.then(async (status) => {
      await Promise.all([out, err]);
      if (child === c) child = undefined;
      const why = stderr.trim().split("\n").at(-1) ?? "";
      fail(
        c,
        `the bundler process ended (exit code ${status.code}${
          status.signal ? `, ${status.signal}` : ""
        })` +
          (why ? `: ${why}` : ""),
      );
    });
    return c;
  };

  const inProcess = async (path: string, options?: BundleOptions) =>
    (await (fallback ??= import("./bundler.ts").then((m) => m.createBundler()))).bundle(
      path,
      options,
    );

  return {
    get pid() {
      return child?.process.pid;
    },
    bundle(path: string, options?: BundleOptions): Promise<BundleResult> {
      if (fallback) return inProcess(path, options);
      try {
        child ??= start();
      } catch {
        // No executable to run (or no permission to): bundle in this process from now on.
        return inProcess(path, options);
      }
      const c = child;
      const id = nextId++;
      const request: BundleRequest = { id, path, options };
      return new Promise((settle) => {
        c.waiting.set(id, settle);
        c.writer.write(encoder.encode(JSON.stringify(request) + "\n")).catch(() => {
          // The process is gone: its exit settles this bundle.
        });
      });
    },
    async close() {
      const c = child;
      child = undefined;
      if (!c) return;
      fail(c, "the bundler was closed");
      c.writer.close().catch(() => {});
      try {
        c.process.kill("SIGKILL");
      } catch { /* already gone */ }
      await c.process.status;
    },
  };
}
