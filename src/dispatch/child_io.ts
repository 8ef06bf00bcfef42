/**
 * The pieces of child-process plumbing that both handler runners (`exec_runner.ts`,
 * `module_runner.ts`) and the handler host (`handler_host.ts`) need: reading a pipe line by
 * line, waiting a bounded time for pipes to drain, and a kill that tolerates an exited child.
 *
 * @example
 * ```ts ignore
 * await pumpLines(child.stdout, (line) => log.info("output", { line }));
 * const drained = await settledWithin(Promise.all([stdout, stderr]), 500);
 * killQuietly(child, "SIGKILL");
 * ```
 * @module
 */

/** Options for {@linkcode pumpLines}. */
export interface PumpLinesOptions {
  /** A partial line longer than this is passed on as it is (unless `keepLong`). Default: no limit. */
  maxLine?: number;
  /** True for a long partial line that must stay whole (it is read on until its newline). */
  keepLong?: (partial: string) => boolean;
}

/**
 * Calls `onLine` with each line of a byte stream (without its `\n`), then with whatever
 * follows the last newline; resolves when the stream ends. The lines of one chunk are passed
 * on synchronously, in order. A read error ends the stream quietly (the process at the other
 * end is gone); an error thrown by `onLine` rejects.
 *
 * @example
 * ```ts
 * import { pumpLines } from "./child_io.ts";
 * const lines: string[] = [];
 * const bytes = new TextEncoder().encode("a\nb");
 * await pumpLines(ReadableStream.from([bytes]), (line) => lines.push(line)); // ["a", "b"]
 * ```
 */
export async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  options: PumpLinesOptions = {},
): Promise<void> {
  const maxLine = options.maxLine ?? Infinity;
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  let buffer = "";
  while (true) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      break;
    }
    if (chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
    let at: number;
    while ((at = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, at));
      buffer = buffer.slice(at + 1);
    }
    if (buffer.length > maxLine && !options.keepLong?.(buffer)) {
      onLine(buffer);
      buffer = "";
    }
  }
  buffer += decoder.decode();
  if (buffer) onLine(buffer);
}

/**
 * `promise`'s value, or `undefined` when it has not settled within `ms` — for draining a
 * child's pipes, which a grandchild may hold open long after the child exited.
 */
export async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `signal` to `child`; a child that has already exited is left alone. */
export function killQuietly(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch { /* already exited */ }
}

/**
 * Spawns `command` in a session and process group of its own (its pid leads the group), so
 * one signal to the group reaches everything it started. Through the small `setsid` program
 * (util-linux), because Deno's `detached: true` forks whd itself: 16–26 ms per spawn, on the
 * main thread, once whd holds a few hundred MB, against 1–2 ms for spawning `setsid` (measured
 * here, Deno 2.9.6). Where `setsid` is missing, `detached: true` does the same job.
 *
 * @example
 * ```ts ignore
 * const child = spawnInOwnSession("/srv/handlers/push.sh", { stdin: "null" });
 * Deno.kill(-child.pid, "SIGTERM"); // the whole group
 * ```
 */
export function spawnInOwnSession(
  command: string,
  options: Omit<Deno.CommandOptions, "detached">,
): Deno.ChildProcess {
  try {
    return new Deno.Command("setsid", { ...options, args: [command, ...(options.args ?? [])] })
      .spawn();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return new Deno.Command(command, { ...options, detached: true }).spawn();
  }
}
