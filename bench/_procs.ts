/**
 * Child processes for the benchmark: spawned with their output in a log file, tracked so that
 * every one (and every process it started) is killed at the end, on failure and on Ctrl-C; plus
 * free loopback ports, waiting for a port to accept, and resident memory and CPU time of a
 * process tree.
 *
 * @module
 */

/** A child process the bench started. */
export interface Proc {
  /** Name for messages. */
  name: string;
  pid: number;
  /** Where its stdout and stderr go. */
  logFile: string;
  /** Resolves when it exits. */
  status: Promise<Deno.CommandStatus>;
  /** True once it has exited. */
  exited(): boolean;
}

/** Starts, tracks and stops child processes. */
export class Procs {
  #running = new Map<number, Proc>();

  /**
   * Starts `cmd args…` with stdout and stderr appended to `logFile` (through `sh -c exec`, so the
   * pid is the command's own).
   */
  spawn(
    name: string,
    cmd: string,
    args: string[],
    options: { logFile: string; cwd?: string; env?: Record<string, string> },
  ): Proc {
    const child = new Deno.Command("/bin/sh", {
      args: ["-c", 'exec "$0" "$@" >>"$BENCH_LOG" 2>&1', cmd, ...args],
      cwd: options.cwd,
      env: { NO_COLOR: "1", ...options.env, BENCH_LOG: options.logFile },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let done = false;
    const status = child.status.then((s) => {
      done = true;
      this.#running.delete(child.pid);
      return s;
    });
    const proc: Proc = {
      name,
      pid: child.pid,
      logFile: options.logFile,
      status,
      exited: () => done,
    };
    this.#running.set(child.pid, proc);
    return proc;
  }

  /**
   * Stops `proc` with `signal`, waits up to `graceMs`, then SIGKILLs it; processes it had
   * started (handler hosts) that outlive it are killed by pid.
   */
  async stop(proc: Proc, signal: Deno.Signal = "SIGTERM", graceMs = 15_000): Promise<void> {
    const descendants = processTree(proc.pid).filter((pid) => pid !== proc.pid);
    if (!proc.exited()) {
      _kill(proc.pid, signal);
      const timer = setTimeout(() => _kill(proc.pid, "SIGKILL"), graceMs);
      await proc.status;
      clearTimeout(timer);
    }
    for (const pid of descendants) _kill(pid, "SIGKILL");
  }

  /** Kills every tracked process that is still running (and its descendants). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.values()].map((p) => this.stop(p, "SIGKILL", 5_000)));
  }
}

function _kill(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch { /* already gone */ }
}

/** A loopback port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Milliseconds from `since` (a `performance.now()` reading) until a TCP connect to
 * `127.0.0.1:port` succeeds; throws with the log's tail when `proc` exits first or after
 * `timeoutMs`.
 */
export async function waitForPort(
  port: number,
  proc: Proc,
  since: number,
  timeoutMs = 60_000,
): Promise<number> {
  while (performance.now() - since < timeoutMs) {
    if (proc.exited()) {
      throw new Error(`${proc.name} exited before listening:\n${await logTail(proc.logFile)}`);
    }
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return performance.now() - since;
    } catch {
      await sleep(2);
    }
  }
  throw new Error(
    `${proc.name} did not listen in ${timeoutMs} ms:\n${await logTail(proc.logFile)}`,
  );
}

/** The last lines of a log file (for error messages). */
export async function logTail(file: string, lines = 20): Promise<string> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** The lines of a process's log file that contain `text` (none when the file is missing). */
export async function logLines(file: string, text: string): Promise<string[]> {
  const log = await Deno.readTextFile(file).catch(() => "");
  return log.split("\n").filter((line) => line.includes(text));
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `root` and every process below it, from the parent pids in `/proc/<pid>/stat`. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    } catch {
      continue;
    }
    // Fields after the command name (which may contain spaces) start at the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Sum of VmRSS (bytes) over `root`'s process tree, and how many processes it has. */
export function treeRss(root: number): { bytes: number; processes: number } {
  let bytes = 0;
  let processes = 0;
  for (const pid of processTree(root)) {
    try {
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      const kb = /VmRSS:\s+(\d+) kB/.exec(status);
      if (kb) {
        bytes += Number(kb[1]) * 1024;
        processes++;
      }
    } catch { /* exited meanwhile */ }
  }
  return { bytes, processes };
}

/** Linux's clock tick for `/proc/<pid>/stat` times (`USER_HZ`, 100 on every mainstream arch). */
const _TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, seconds) of `root`'s process tree by role: the root's `main` thread,
 * its store `worker` threads (named `worker-<n>` by Deno), V8's `gc` helper threads (`V8
 * DefaultWorke…`), its other `runtime` threads (tokio, timers), and every thread of its
 * descendant processes (`children`: whd's handler hosts and executables). A process that exits
 * between two calls takes its time with it: compare calls around a window it lives through.
 */
export function treeCpuSeconds(root: number): Record<CpuRole, number> {
  const out: Record<CpuRole, number> = { main: 0, worker: 0, gc: 0, runtime: 0, children: 0 };
  for (const pid of processTree(root)) {
    let tasks: Deno.DirEntry[];
    try {
      tasks = [...Deno.readDirSync(`/proc/${pid}/task`)];
    } catch {
      continue; // exited meanwhile
    }
    for (const task of tasks) {
      let stat: string;
      try {
        stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
      } catch {
        continue;
      }
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      // Fields after the name: state is the first, utime the 12th, stime the 13th.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const seconds = (Number(fields[11]) + Number(fields[12])) / _TICKS_PER_SECOND;
      const role: CpuRole = pid !== root
        ? "children"
        : task.name === String(pid)
        ? "main"
        : name.startsWith("worker-")
        ? "worker"
        : name.startsWith("V8 ")
        ? "gc"
        : "runtime";
      out[role] += seconds;
    }
  }
  return out;
}

/** CPU µs per request by role between two {@linkcode treeCpuSeconds} readings. */
export function cpuPerRequest(
  before: Record<CpuRole, number>,
  after: Record<CpuRole, number>,
  requests: number,
): Record<CpuRole, number> {
  const out = { ...after };
  for (const role of Object.keys(out) as CpuRole[]) {
    out[role] = (after[role] - before[role]) * 1e6 / Math.max(1, requests);
  }
  return out;
}

/** The parts {@linkcode treeCpuSeconds} splits a process tree's CPU time into. */
export type CpuRole = "main" | "worker" | "gc" | "runtime" | "children";

/** Samples {@linkcode treeRss} of `root` every `everyMs` until stopped; keeps the peak. */
export function rssSampler(
  root: number,
  everyMs = 200,
): { stop(): { peakBytes: number; processes: number } } {
  let peakBytes = 0;
  let processes = 0;
  const sample = () => {
    const now = treeRss(root);
    if (now.bytes > peakBytes) {
      peakBytes = now.bytes;
      processes = now.processes;
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peakBytes, processes };
    },
  };
}
