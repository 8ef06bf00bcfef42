/**
 * Fixture for `emfile_test.ts`: the listener alone (`listen()` answering 200), with a connection
 * limit far above the open-files limit the test starts it under, so that accept runs into
 * EMFILE. Prints `port N` on stdout, logs JSON lines on stderr, stops on SIGTERM.
 *
 * @module
 */
import { listen } from "../../src/http/listener.ts";
import { createLogger } from "../../src/ops/log.ts";
import { systemClock } from "../../src/clock.ts";

const log = createLogger({ level: "info", format: "json" });
const server = listen({
  hostname: "127.0.0.1",
  port: 0,
  limits: {
    headerTimeoutMs: 60_000,
    bodyTimeoutMs: 60_000,
    idleTimeoutMs: 60_000,
    maxConnections: 100_000,
    maxHeaderBytes: 16_384,
  },
  log,
  clock: systemClock,
  onListen: ({ port }) => console.log(`port ${port}`),
  onError: () => new Response("error", { status: 500 }),
}, () => new Response('{"ok":true}'));
const { promise, resolve } = Promise.withResolvers<void>();
Deno.addSignalListener("SIGTERM", () => resolve());
await promise;
await server.shutdown();
console.log("stopped");
