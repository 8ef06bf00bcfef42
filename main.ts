/**
 * whd: a self-hosted webhook daemon. The entry point of both `deno run main.ts` and the
 * compiled binary.
 *
 * - `whd __handler-host` (internal, started by `whd serve`): runs module handlers in this
 *   process for the dispatcher (see `src/dispatch/handler_host.ts`). Checked first, and the
 *   CLI is not loaded, so a host starts fast.
 * - `whd __bundler` (internal, started by `whd serve` when it loads handlers): bundles handler
 *   files with esbuild in a process of its own (see `src/dispatch/bundler_process_main.ts`).
 * - anything else: the CLI (`src/cli/program.ts`).
 *
 * All are literal dynamic imports, so `deno compile` embeds them.
 *
 * @module
 */

if (import.meta.main) {
  if (Deno.args[0] === "__handler-host") {
    const { runHandlerHost } = await import("./src/dispatch/handler_host.ts");
    await runHandlerHost();
  } else if (Deno.args[0] === "__bundler") {
    const { runBundlerProcess } = await import("./src/dispatch/bundler_process_main.ts");
    await runBundlerProcess();
  } else {
    const { main } = await import("./src/cli/program.ts");
    const code = await main(Deno.args);
    // Never turn a failure into success: keep a non-zero code something else already set.
    if (code !== 0 || !Deno.exitCode) Deno.exitCode = code;
  }
}
