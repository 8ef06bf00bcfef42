/**
 * Child process of the ingest benchmark: reads `{ url, requests: [{ headers, body }], connections,
 * seconds }` as JSON from the file named by the first argument, sends the requests in a closed
 * loop (cycling), and prints a {@linkcode LoadResult} as JSON.
 * @module
 */
import { load } from "./_load.ts";

const spec = JSON.parse(await Deno.readTextFile(Deno.args[0]));
const requests: { headers: Record<string, string>; body: string }[] = spec.requests;
const result = await load(
  (i) => ({
    url: spec.url,
    init: { method: "POST", ...requests[i % requests.length] },
  }),
  spec.connections,
  spec.seconds,
);
console.log(JSON.stringify(result));
