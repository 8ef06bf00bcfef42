/**
 * Hostile event ids and types over real HTTP: lone surrogates, control characters and
 * oversized ids get a 400 naming the problem and store nothing; the longest allowed id is
 * stored exactly as it was deduped.
 */
import assert from "node:assert/strict";
import { PROVIDERS } from "../../src/providers/mod.ts";
import { startTestServer, type TestServer } from "../helpers/test_server.ts";

const SECRET = "hostile-ids-secret-0123";
const CONFIG = `providers:
  shop:
    type: hmac
    webhooks:
      default:
        path: /hooks/shop
        signing_secret_env: SHOP_SECRET
        signature_header: X-Sig
        id_path: /id
        type_path: /type
  stripe:
    webhooks:
      default:
        path: /hooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
`;
const STRIPE_SECRET = "whsec_hostile_ids_stripe_42";
const ENV = { SHOP_SECRET: SECRET, STRIPE_WEBHOOK_SECRET: STRIPE_SECRET };

/** POSTs `body` (JSON text, sent byte for byte) signed for `provider`'s default webhook. */
async function post(server: TestServer, provider: string, body: string) {
  const webhook = server.config.providers.find((p) => p.name === provider)!.webhooks[0];
  const secret = provider === "shop" ? SECRET : STRIPE_SECRET;
  const headers = await PROVIDERS[webhook.type].sign(webhook, body, { secret });
  const response = await fetch(`${server.url}${webhook.path}`, {
    method: "POST",
    headers,
    body,
  });
  return { status: response.status, body: await response.json() };
}

async function withServer(run: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer(CONFIG, ENV);
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

// JSON text as an attacker writes it (escapes kept as they are on the wire).
const HOSTILE: [string, string, string, RegExp][] = [
  ["a lone high surrogate in the id", '"evt_\\ud800"', '"t.created"', /lone UTF-16 surrogate/],
  ["a lone low surrogate in the id", '"\\udc00x"', '"t.created"', /lone UTF-16 surrogate/],
  ["a reversed surrogate pair", '"\\udc00\\ud800"', '"t.created"', /lone UTF-16 surrogate/],
  ["a NUL in the id", '"evt_\\u0000_1"', '"t.created"', /control character \(U\+0000\)/],
  ["a newline in the id", '"evt_\\n1"', '"t.created"', /control character \(U\+000A\)/],
  ["an escape (log forging) in the id", '"evt_\\u001b[31m"', '"t"', /U\+001B/],
  ["a C1 control in the id", '"evt_\\u0085"', '"t.created"', /U\+0085/],
  ["a 256-byte id", JSON.stringify("x".repeat(256)), '"t.created"', /longer than 255 bytes/],
  ["a 256-byte id of 2-byte characters", JSON.stringify("é".repeat(128)), '"t"', /256 bytes/],
  ["a lone surrogate in the type", '"evt_ok"', '"t.\\ud83d"', /event type .*surrogate/],
  ["a control character in the type", '"evt_ok"', '"t\\u0007"', /event type .*U\+0007/],
  ["a 256-byte type", '"evt_ok"', JSON.stringify("t".repeat(256)), /event type .*longer/],
];

for (const [name, id, type, reason] of HOSTILE) {
  Deno.test(`hostile ids: ${name} → 400 with the reason, nothing stored`, async () => {
    await withServer(async (server) => {
      for (const provider of ["shop", "stripe"]) {
        const body = `{"id":${id},"type":${type},"object":"event","data":{}}`;
        const answer = await post(server, provider, body);
        assert.equal(answer.status, 400, `${provider}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.body.error, /^invalid_(id|type)$/);
        assert.match(answer.body.message, reason);
        // Sent again: the same answer, never a 503 and never an acknowledgement.
        assert.equal((await post(server, provider, body)).status, 400);
      }
      assert.deepEqual(await server.inbox.list({ limit: 100 }), []);
    });
  });
}

Deno.test("hostile ids: a 255-byte id (multi-byte characters too) is stored exactly and deduped", async () => {
  await withServer(async (server) => {
    const ids = ["i".repeat(255), "é".repeat(127) + "x", "😀".repeat(63) + "abc"];
    for (const id of ids) {
      assert.equal(new TextEncoder().encode(id).length, 255);
      const body = JSON.stringify({ id, type: "t.created" });
      const first = await post(server, "shop", body);
      assert.deepEqual([first.status, first.body], [200, { received: true }]);
      const again = await post(server, "shop", body);
      assert.deepEqual(again.body, { received: true, duplicate: true });
      const rows = await server.inbox.find(id, "shop");
      assert.equal(rows.length, 1);
      assert.equal(rows[0].id, id, "stored exactly as received");
    }
    assert.equal((await server.inbox.list({ limit: 100 })).length, ids.length);
  });
});
