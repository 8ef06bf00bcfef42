import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import Stripe from "stripe";
import { UserError } from "../../src/errors.ts";
import { stripe } from "../../src/providers/stripe.ts";
import { assertRejected, assertVerified, request, seconds, webhookConfig } from "./_helpers.ts";

const SECRET = "whsec_test_5bq2Xa9TfRJc1mNpQk7Lw3Yz";
const OLD_SECRET = "whsec_old_Hk4Pz8Vn2Rt6Yb1Mq9Xc";
const WRONG = "whsec_wrong_Gd3Lk7Sa1Wq5Ez9Ty";
const oracle = new Stripe("sk_test_x");
const webhook = webhookConfig("stripe");
const body = JSON.stringify({
  id: "evt_1Abc",
  object: "event",
  type: "payment_intent.succeeded",
  data: { object: { id: "pi_1", amount: 2000 } },
});
const v1 = (secret: string, t: number, payload: string) =>
  createHmac("sha256", secret).update(`${t}.${payload}`).digest("hex");
/** Strings a rejection must never show. */
const forbidden = (t: number, payload = body) => [
  SECRET,
  OLD_SECRET,
  WRONG,
  v1(SECRET, t, payload),
  v1(OLD_SECRET, t, payload),
  v1(WRONG, t, payload),
];

Deno.test("stripe: a header from Stripe's own library verifies, with id, type and raw payload", async () => {
  const now = Date.now();
  const header = await oracle.webhooks.generateTestHeaderStringAsync({
    payload: body,
    secret: SECRET,
    timestamp: seconds(now),
  });
  const result = assertVerified(
    await stripe.createVerifier(webhook, [SECRET]).verify(
      request({ "stripe-signature": header }, body, now),
    ),
  );
  assert.equal(result.id, "evt_1Abc");
  assert.equal(result.type, "payment_intent.succeeded");
  assert.equal(result.payload, body);
  assert.equal(result.reply, undefined);
});

Deno.test("stripe: our sign produces headers Stripe's library accepts", async () => {
  const headers = await stripe.sign(webhook, body, { secret: SECRET });
  assert.equal(headers["content-type"], "application/json");
  const event = await oracle.webhooks.constructEventAsync(
    body,
    headers["stripe-signature"],
    SECRET,
  );
  assert.equal(event.id, "evt_1Abc");
  await assert.rejects(
    oracle.webhooks.constructEventAsync(body, headers["stripe-signature"], WRONG),
  );
});

Deno.test("stripe: any secret of the rotation list may match, and any of several v1 entries", async () => {
  const now = Date.now();
  const t = seconds(now);
  const verifier = stripe.createVerifier(webhook, [OLD_SECRET, SECRET]);
  const signed = await stripe.sign(webhook, body, { secret: SECRET, timestamp: t });
  assertVerified(await verifier.verify(request(signed, body, now)));
  // Stripe sends one v1 per active secret while a secret is rolled; only the second matches.
  const header = `t=${t},v1=${v1(WRONG, t, body)},v1=${v1(SECRET, t, body)}`;
  assertVerified(
    await stripe.createVerifier(webhook, [SECRET]).verify(
      request({ "stripe-signature": header }, body, now),
    ),
  );
});

Deno.test("stripe: v0 and unknown schemes are ignored", async () => {
  const now = Date.now();
  const t = seconds(now);
  const verifier = stripe.createVerifier(webhook, [SECRET]);
  const onlyV0 = `t=${t},v0=${v1(SECRET, t, body)}`;
  assertRejected(
    await verifier.verify(request({ "stripe-signature": onlyV0 }, body, now)),
    "missing_signature",
    forbidden(t),
  );
  const mixed = `t=${t},v0=abc,v1=${v1(SECRET, t, body)},x9=zzz`;
  assertVerified(await verifier.verify(request({ "stripe-signature": mixed }, body, now)));
});

Deno.test("stripe: a missing or malformed Stripe-Signature header is missing_signature", async () => {
  const now = Date.now();
  const verifier = stripe.createVerifier(webhook, [SECRET]);
  assertRejected(await verifier.verify(request({}, body, now)), "missing_signature");
  assertRejected(
    await verifier.verify(
      request({ "stripe-signature": `v1=${v1(SECRET, seconds(now), body)}` }, body, now),
    ),
    "missing_signature",
    forbidden(seconds(now)),
  );
});

Deno.test("stripe: a tampered body, a wrong secret or a non-hex v1 is bad_signature", async () => {
  const now = Date.now();
  const t = seconds(now);
  const verifier = stripe.createVerifier(webhook, [SECRET]);
  const signed = await stripe.sign(webhook, body, { secret: SECRET, timestamp: t });
  const tampered = body.replace("2000", "9000");
  assertRejected(await verifier.verify(request(signed, tampered, now)), "bad_signature", [
    ...forbidden(t),
    ...forbidden(t, tampered),
  ]);
  const wrong = await stripe.sign(webhook, body, { secret: WRONG, timestamp: t });
  assertRejected(await verifier.verify(request(wrong, body, now)), "bad_signature", forbidden(t));
  assertRejected(
    await verifier.verify(request({ "stripe-signature": `t=${t},v1=not-hex` }, body, now)),
    "bad_signature",
  );
});

Deno.test("stripe: timestamps older or further ahead than tolerance_seconds are stale_timestamp", async () => {
  const now = Date.now();
  const verifier = stripe.createVerifier(webhook, [SECRET]);
  for (const offset of [-301, 301, -86_400]) {
    const t = seconds(now) + offset;
    const signed = await stripe.sign(webhook, body, { secret: SECRET, timestamp: t });
    const r = assertRejected(
      await verifier.verify(request(signed, body, now)),
      "stale_timestamp",
      forbidden(t),
    );
    assert.match(r.message, offset < 0 ? /old/ : /future/);
  }
  for (const offset of [-299, 299]) {
    const t = seconds(now) + offset;
    const signed = await stripe.sign(webhook, body, { secret: SECRET, timestamp: t });
    assertVerified(await verifier.verify(request(signed, body, now)));
  }
  const strict = stripe.createVerifier(webhookConfig("stripe", { tolerance_seconds: 10 }), [
    SECRET,
  ]);
  const t = seconds(now) - 20;
  assertRejected(
    await strict.verify(
      request(await stripe.sign(webhook, body, { secret: SECRET, timestamp: t }), body, now),
    ),
    "stale_timestamp",
  );
});

Deno.test("stripe: the timestamp is checked before the signature, the signature before the JSON", async () => {
  const now = Date.now();
  const verifier = stripe.createVerifier(webhook, [SECRET]);
  const staleWrong = await stripe.sign(webhook, body, {
    secret: WRONG,
    timestamp: seconds(now) - 1000,
  });
  assertRejected(await verifier.verify(request(staleWrong, body, now)), "stale_timestamp");
  const notJson = "{not json";
  const wrong = await stripe.sign(webhook, notJson, { secret: WRONG });
  assertRejected(await verifier.verify(request(wrong, notJson, now)), "bad_signature");
});

Deno.test("stripe: a signed body that is not JSON is invalid_json; no id or type is missing_id/missing_type", async () => {
  const verifier = stripe.createVerifier(webhook, [SECRET]);
  const cases: [string, "invalid_json" | "missing_id" | "missing_type"][] = [
    ["{not json", "invalid_json"],
    [JSON.stringify({ type: "x.y" }), "missing_id"],
    [JSON.stringify({ id: 42, type: "x.y" }), "missing_id"],
    [JSON.stringify([1, 2]), "missing_id"],
    [JSON.stringify({ id: "evt_1" }), "missing_type"],
  ];
  for (const [payload, code] of cases) {
    const signed = await stripe.sign(webhook, payload, { secret: SECRET });
    assertRejected(await verifier.verify(request(signed, payload)), code, [SECRET]);
  }
  const latin1 = new Uint8Array([0x7b, 0xff, 0x7d]);
  const t = seconds(Date.now());
  const header = `t=${t},v1=${
    createHmac("sha256", SECRET).update(`${t}.`).update(latin1).digest("hex")
  }`;
  assertRejected(
    await verifier.verify(request({ "stripe-signature": header }, latin1)),
    "invalid_json",
  );
});

Deno.test("stripe: verify_signature false skips the signature but still reads id and type", async () => {
  const verifier = stripe.createVerifier(webhookConfig("stripe", { verify_signature: false }), []);
  const result = assertVerified(await verifier.verify(request({}, body)));
  assert.equal(result.id, "evt_1Abc");
  assert.equal(result.type, "payment_intent.succeeded");
  assertRejected(await verifier.verify(request({}, "nope")), "invalid_json");
  assertRejected(await verifier.verify(request({}, "{}")), "missing_id");
});

Deno.test("stripe: verifying without a secret is a UserError at setup that names no secret", () => {
  assert.throws(() => stripe.createVerifier(webhook, []), UserError);
  assert.throws(() => stripe.createVerifier(webhook, [SECRET, ""]), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.ok(!e.message.includes(SECRET));
    return true;
  });
});

Deno.test("stripe: sample is a payment_intent.succeeded event with fresh ids that verifies once signed", async () => {
  const a = stripe.sample();
  const b = stripe.sample();
  assert.equal(a.type, "payment_intent.succeeded");
  const ea = JSON.parse(a.body);
  const eb = JSON.parse(b.body);
  assert.match(ea.id, /^evt_[A-Za-z0-9]{24}$/);
  assert.notEqual(ea.id, eb.id);
  assert.equal(ea.type, "payment_intent.succeeded");
  assert.equal(ea.data.object.object, "payment_intent");
  assert.ok(Math.abs(ea.created - seconds(Date.now())) < 60);
  const event = await oracle.webhooks.constructEventAsync(
    a.body,
    (await stripe.sign(webhook, a.body, { secret: SECRET }))["stripe-signature"],
    SECRET,
  );
  assert.equal(event.type, "payment_intent.succeeded");
  const other = JSON.parse(stripe.sample("customer.subscription.deleted").body);
  assert.equal(other.type, "customer.subscription.deleted");
  assert.equal(other.data.object.object, "customer.subscription");
});

Deno.test("stripe: a body with a genuine U+FFFD character is valid; invalid UTF-8 is invalid_json", async () => {
  const verifier = stripe.createVerifier(webhookConfig("stripe", { verify_signature: false }), []);
  const withReplacementChar = JSON.stringify({ id: "evt_\uFFFD", type: "a.b" });
  assert.equal(
    assertVerified(await verifier.verify(request({}, withReplacementChar))).id,
    "evt_\uFFFD",
  );
  const invalid = new Uint8Array([
    ...new TextEncoder().encode('{"id":"evt_'),
    0xc3,
    0x28,
    ...new TextEncoder().encode('","type":"a"}'),
  ]);
  assertRejected(await verifier.verify(request({}, invalid)), "invalid_json");
});
