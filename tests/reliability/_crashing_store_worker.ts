/**
 * The store worker plus one test-only message: `{ type: "die" }` throws an uncaught error, so
 * the worker dies the way a bug or an out-of-memory would kill it.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import "../../src/inbox/store_worker.ts";

self.addEventListener("message", (e: MessageEvent<{ type: string }>) => {
  if (e.data.type === "die") {
    setTimeout(() => {
      throw new Error("store worker killed by the test");
    });
  }
});
