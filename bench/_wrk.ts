/**
 * Runs wrk (`-t1 -c64`) against a loopback port with the pool script and reads its result line,
 * plus wrk's own CPU time (bash's `times` after it exits), which shows whether the load
 * generator was the bottleneck.
 *
 * @module
 */

/** What one wrk run measured. */
export interface WrkResult {
  /** Completed requests (any status). */
  requests: number;
  seconds: number;
  perSecond: number;
  /** Responses with status ≥ 400 (wrk's own count). */
  non2xx: number;
  /** Socket errors: connect, read, write, timeout. */
  socketErrors: number;
  /** Completed requests that got a 2xx/3xx answer. */
  ok: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** wrk's user + system CPU time over wall time (1.0 = one core busy). */
  wrkCpu: number;
}

/** Options of {@linkcode runWrk}. */
export interface WrkOptions {
  port: number;
  path: string;
  scriptFile: string;
  seconds: number;
  connections?: number;
  /** Aborting stops wrk (the bench's Ctrl-C / failure path). */
  signal?: AbortSignal;
}

/** Runs wrk once; throws when it fails or prints no result line. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    "-t1",
    `-c${options.connections ?? 64}`,
    `-d${options.seconds}s`,
    "--timeout",
    "10s",
    "-s",
    options.scriptFile,
    `http://127.0.0.1:${options.port}${options.path}`,
  ];
  const output = await new Deno.Command("bash", {
    // wrk runs as a job so that a TERM to this shell (abort) reaches it; `times` then prints the
    // CPU time of the reaped child.
    args: [
      "-c",
      "trap 'kill $p 2>/dev/null; exit 143' TERM; wrk \"$@\" & p=$!; wait $p || exit $?; times",
      "wrk",
      ...args,
    ],
    signal: options.signal,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  const line = /^WRK_JSON (.*)$/m.exec(stdout);
  if (!output.success || !line) {
    throw new Error(`wrk failed (exit ${output.code}):\n${stdout}${stderr}`);
  }
  const r = JSON.parse(line[1]) as Record<string, number>;
  const seconds = r.duration_us / 1e6;
  const socketErrors = r.connect + r.read + r.write + r.timeout;
  return {
    requests: r.requests,
    seconds,
    perSecond: r.requests / seconds,
    non2xx: r.status,
    socketErrors,
    ok: r.requests - r.status,
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
    maxMs: r.max_us / 1000,
    wrkCpu: _childCpuSeconds(stdout) / seconds,
  };
}

/** The children's user + system seconds from bash's `times` (its last line). */
function _childCpuSeconds(stdout: string): number {
  const lines = stdout.trimEnd().split("\n");
  const times = [...lines[lines.length - 1].matchAll(/(\d+)m([\d.]+)s/g)];
  return times.reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
}
