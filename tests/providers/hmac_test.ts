import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import type { WebhookConfig } from "../../src/config/schema.ts";
import { UserError } from "../../src/errors.ts";
import { hmac } from "../../src/providers/hmac.ts";
import { resolvePointer } from "../../src/providers/_shared.ts";
import { assertRejected, assertVerified, request, webhookConfig } from "./_helpers.ts";

const SECRET = "shop-secret-Pq9Wx2Er5Ty8";
const OLD_SECRET = "shop-old-secret-Mn3Bv6Cx";
const WRONG = "shop-wrong-secret-Lk1Jh4";
const body = JSON.stringify({ id: "ord_1", type: "order.created", data: { total: 12 } });

const byPath = webhookConfig("hmac", {
  signature_header: "X-Shop-Signature",
  id_path: "/id",
  type_path: "/type",
});

/** The oracle: an HMAC over the raw body computed independently with node:crypto. */
function oracle(
  payload: string,
  secret = SECRET,
  algorithm = "sha256",
  encoding: "hex" | "base64" = "hex",
): string {
  return createHmac(algorithm, secret).update(payload).digest(encoding);
}
const forbidden = (payload: string) =>
  [SECRET, OLD_SECRET, WRONG].flatMap((
    s,
  ) => [oracle(payload, s), oracle(payload, s, "sha256", "base64")]);

Deno.test("hmac: an HMAC-SHA256 hex of the raw body verifies; id and type come from JSON pointers", async () => {
  const r = assertVerified(
    await hmac.createVerifier(byPath, [SECRET]).verify(
      request({ "x-shop-signature": oracle(body) }, body),
    ),
  );
  assert.deepEqual([r.id, r.type, r.payload], ["ord_1", "order.created", body]);
});

Deno.test("hmac: every algorithm, encoding and prefix combination matches the node:crypto oracle both ways", async () => {
  for (const algorithm of ["sha1", "sha256", "sha512"] as const) {
    for (const encoding of ["hex", "base64"] as const) {
      const webhook: WebhookConfig = {
        ...byPath,
        algorithm,
        encoding,
        signature_prefix: `${algorithm}=`,
      };
      const signature = `${algorithm}=${oracle(body, SECRET, algorithm, encoding)}`;
      const verifier = hmac.createVerifier(webhook, [SECRET]);
      assertVerified(await verifier.verify(request({ "x-shop-signature": signature }, body)));
      const signed = await hmac.sign(webhook, body, { secret: SECRET });
      assert.equal(signed["x-shop-signature"], signature);
      assert.equal(signed["content-type"], "application/json");
      const unprefixed = oracle(body, SECRET, algorithm, encoding);
      assertRejected(
        await verifier.verify(request({ "x-shop-signature": unprefixed }, body)),
        "bad_signature",
        [SECRET, unprefixed],
      );
    }
  }
});

Deno.test("hmac: id and type may come from headers, and sign sets those headers", async () => {
  const webhook = webhookConfig("hmac", {
    signature_header: "X-Sig",
    id_header: "X-Event-Id",
    type_header: "X-Event-Type",
  });
  const verifier = hmac.createVerifier(webhook, [SECRET]);
  const h = { "x-sig": oracle(body), "x-event-id": "d-77", "x-event-type": "thing.done" };
  const r = assertVerified(await verifier.verify(request(h, body)));
  assert.deepEqual([r.id, r.type], ["d-77", "thing.done"]);
  const signed = await hmac.sign(webhook, body, { secret: SECRET, id: "d-78", type: "t.x" });
  assert.deepEqual([signed["x-event-id"], signed["x-event-type"]], ["d-78", "t.x"]);
  assertVerified(await verifier.verify(request(signed, body)));
  const { "x-event-id": _, ...noId } = h;
  assertRejected(await verifier.verify(request(noId, body)), "missing_id", forbidden(body));
  const { "x-event-type": __, ...noType } = h;
  assertRejected(await verifier.verify(request(noType, body)), "missing_type", forbidden(body));
});

Deno.test("hmac: JSON pointers reach nested values, decode ~0 and ~1, and accept numbers", async () => {
  const webhook = webhookConfig("hmac", {
    signature_header: "X-Sig",
    id_path: "/meta/a~1b/0",
    type_path: "/meta/~0kind",
  });
  const payload = JSON.stringify({ meta: { "a/b": [1234], "~kind": "nested.type" } });
  const r = assertVerified(
    await hmac.createVerifier(webhook, [SECRET]).verify(
      request({ "x-sig": oracle(payload) }, payload),
    ),
  );
  assert.deepEqual([r.id, r.type], ["1234", "nested.type"]);
  assert.equal(resolvePointer({ "~1": 5 }, "/~01"), 5);
  assert.equal(resolvePointer({ a: [1] }, "/a/01"), undefined);
  assert.equal(resolvePointer({ a: null }, "/a/b"), undefined);
});

Deno.test("hmac: the second secret of the rotation list may match", async () => {
  const verifier = hmac.createVerifier(byPath, [OLD_SECRET, SECRET]);
  assertVerified(await verifier.verify(request({ "x-shop-signature": oracle(body) }, body)));
});

Deno.test("hmac: a missing header is missing_signature; tampering or a wrong secret is bad_signature", async () => {
  const verifier = hmac.createVerifier(byPath, [SECRET]);
  assertRejected(await verifier.verify(request({}, body)), "missing_signature", forbidden(body));
  const tampered = body.replace("12", "13");
  assertRejected(
    await verifier.verify(request({ "x-shop-signature": oracle(body) }, tampered)),
    "bad_signature",
    [...forbidden(body), ...forbidden(tampered)],
  );
  assertRejected(
    await verifier.verify(request({ "x-shop-signature": oracle(body, WRONG) }, body)),
    "bad_signature",
    forbidden(body),
  );
  const sha1Length = oracle(body, SECRET, "sha1");
  assertRejected(
    await verifier.verify(request({ "x-shop-signature": sha1Length }, body)),
    "bad_signature",
  );
});

Deno.test("hmac: invalid JSON, a missing id or type are rejected after the signature", async () => {
  const verifier = hmac.createVerifier(byPath, [SECRET]);
  assertRejected(
    await verifier.verify(request({ "x-shop-signature": oracle("<xml/>") }, "<xml/>")),
    "invalid_json",
  );
  assertRejected(
    await verifier.verify(request({ "x-shop-signature": oracle("<xml/>", WRONG) }, "<xml/>")),
    "bad_signature",
  );
  const noId = JSON.stringify({ type: "a.b" });
  assertRejected(
    await verifier.verify(request({ "x-shop-signature": oracle(noId) }, noId)),
    "missing_id",
  );
  const noType = JSON.stringify({ id: "1", type: "" });
  assertRejected(
    await verifier.verify(request({ "x-shop-signature": oracle(noType) }, noType)),
    "missing_type",
  );
});

Deno.test("hmac: verify_signature false needs no signature_header and still extracts id and type", async () => {
  const webhook = webhookConfig("hmac", {
    verify_signature: false,
    id_path: "/id",
    type_path: "/type",
  });
  const r = assertVerified(await hmac.createVerifier(webhook, []).verify(request({}, body)));
  assert.deepEqual([r.id, r.type], ["ord_1", "order.created"]);
});

Deno.test("hmac: a verifying webhook without signature_header is a UserError at setup", () => {
  const webhook = webhookConfig("hmac", { id_path: "/id", type_path: "/type" });
  assert.throws(() => hmac.createVerifier(webhook, [SECRET]), UserError);
});

Deno.test("hmac: sample has a fresh id and type example.created and verifies once signed", async () => {
  const a = hmac.sample();
  const b = hmac.sample();
  assert.equal(a.type, "example.created");
  assert.notEqual(JSON.parse(a.body).id, JSON.parse(b.body).id);
  const signed = await hmac.sign(byPath, a.body, { secret: SECRET });
  const r = assertVerified(
    await hmac.createVerifier(byPath, [SECRET]).verify(request(signed, a.body)),
  );
  assert.deepEqual([r.id, r.type], [JSON.parse(a.body).id, "example.created"]);
});
