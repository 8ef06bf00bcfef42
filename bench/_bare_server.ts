/**
 * The baseline server for `deno task bench`: a bare `Deno.serve` on `127.0.0.1:<port>` that reads
 * each request body and answers 200, run as its own process like the systems under test.
 *
 * `deno run --allow-net bench/_bare_server.ts <port>`
 *
 * @module
 */
const port = Number(Deno.args[0]);
Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (request) => {
  await request.arrayBuffer();
  return new Response('{"received":true}', { headers: { "content-type": "application/json" } });
});
