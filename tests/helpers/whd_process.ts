/**
 * Runs whd as a real child process (`deno run main.ts …`), the way a user does.
 * @module
 */

/** The repository root. */
export const REPO = new URL("../../", import.meta.url).pathname;

/** Output of a finished whd run. */
export interface WhdRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@linkcode whd} and {@linkcode startWhd}. */
export interface WhdOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** `--env-file` to load (Deno's flag). */
  envFile?: string;
  stdin?: string;
  /**
   * Runs whd as `bash -c 'ulimit -n N && exec deno …'`: its soft and hard open-files limits are
   * both N, so whd cannot raise them.
   */
  nofile?: number;
}

function command(args: string[], options: WhdOptions): Deno.Command {
  const denoArgs = ["run", "--allow-all", `--config=${REPO}deno.json`];
  if (options.envFile) denoArgs.push(`--env-file=${options.envFile}`);
  const argv = [Deno.execPath(), ...denoArgs, `${REPO}main.ts`, ...args];
  const [program, ...rest] = options.nofile === undefined
    ? argv
    : ["bash", "-c", `ulimit -n ${options.nofile} && exec "$0" "$@"`, ...argv];
  return new Deno.Command(program, {
    args: rest,
    cwd: options.cwd ?? REPO,
    // A free admin port per process: tests run in parallel (the default is 127.0.0.1:9090).
    env: { NO_COLOR: "1", WHD_ADMIN_LISTEN: "127.0.0.1:0", ...options.env },
    clearEnv: false,
    stdin: options.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs `whd args…` to completion. */
export async function whd(args: string[], options: WhdOptions = {}): Promise<WhdRun> {
  const child = command(args, options).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A running `whd serve`. */
export interface WhdServer {
  child: Deno.ChildProcess;
  port: number;
  url: string;
  /** Everything written to stderr so far. */
  logs(): string;
  /** Sends `signal` and waits for exit. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Starts `whd serve --port 0 …` and resolves once it listens. */
export async function startWhd(args: string[], options: WhdOptions = {}): Promise<WhdServer> {
  const child = command(["serve", "--port", "0", "--host", "127.0.0.1", ...args], options)
    .spawn();
  let logs = "";
  const decoder = new TextDecoder();
  const { promise: listening, resolve, reject } = Promise.withResolvers<number>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      logs += decoder.decode(chunk, { stream: true });
      const match = /"msg":"listening".*?"port":(\d+)|listening .*?port=(\d+)/.exec(logs);
      if (match) resolve(Number(match[1] ?? match[2]));
    }
  };
  const pumping = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const status = child.status.then((s) => {
    reject(new Error(`whd serve exited (${s.code}) before listening:\n${logs}`));
    return s;
  });
  const timer = setTimeout(
    () => reject(new Error(`whd serve did not listen in 30 s:\n${logs}`)),
    30_000,
  );
  let port: number;
  try {
    port = await listening;
  } finally {
    clearTimeout(timer);
  }
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    logs: () => logs,
    stop: async (signal: Deno.Signal = "SIGTERM") => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      const s = await status;
      await pumping;
      return s;
    },
  };
}
