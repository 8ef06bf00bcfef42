import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/loader.ts";
import { createOrderOf } from "../../src/dispatch/order_of.ts";
import type { IncomingEvent } from "../../src/event.ts";

const config = parseConfig(
  `providers:
  stripe:
    webhooks:
      payments:
        path: /stripe
        signing_secret_env: S
        order_key: /data/object/id
      other:
        path: /stripe-other
        signing_secret_env: S
  shop:
    type: hmac
    webhooks:
      orders:
        path: /shop
        signing_secret_env: S
        signature_header: X-Sig
        id_path: /id
        type_path: /type
        order_key: /order/n
`,
  "whd.yaml",
);
const event = (provider: string, webhook: string, payload: unknown): IncomingEvent => ({
  id: "e",
  provider,
  webhook,
  type: "t",
  payload: JSON.stringify(payload),
  receivedAt: 7,
  source: "delivery",
});

Deno.test("order_of: key from the webhook's pointer, time from the provider's created, else received", () => {
  const orderOf = createOrderOf(config)!;
  assert.deepEqual(
    orderOf(event("stripe", "payments", { created: 1700000000, data: { object: { id: "in_1" } } })),
    { key: "in_1", at: 1_700_000_000_000 },
  );
  assert.deepEqual(orderOf(event("shop", "orders", { order: { n: 42 } })), { key: "42", at: 7 });
  assert.equal(orderOf(event("stripe", "payments", { data: {} })), undefined, "no key: unordered");
  assert.equal(orderOf(event("stripe", "payments", { data: { object: { id: {} } } })), undefined);
  assert.equal(orderOf(event("stripe", "other", { data: { object: { id: "in_1" } } })), undefined);
  assert.equal(createOrderOf({ providers: [] }), undefined, "nothing ordered: no work at accept");
});

Deno.test("order_of: a pointer that is not one is a config error naming the key", () => {
  assert.throws(
    () =>
      parseConfig(
        "providers:\n  stripe:\n    webhooks:\n      d:\n        path: /s\n        signing_secret_env: S\n        order_key: data.object.id\n",
        "whd.yaml",
      ),
    /order_key.*JSON pointer/s,
  );
});
