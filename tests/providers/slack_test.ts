import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { slack } from "../../src/providers/slack.ts";
import { assertRejected, assertVerified, request, seconds, webhookConfig } from "./_helpers.ts";

const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const OLD_SECRET = "0ld5ecret0ld5ecret0ld5ecret0ld5e";
const WRONG = "wr0ngwr0ngwr0ngwr0ngwr0ngwr0ng12";
const webhook = webhookConfig("slack");

/** The oracle: Slack's documented signing scheme computed independently with node:crypto. */
function oracle(body: string, secret = SECRET, t = seconds(Date.now()), form = false) {
  return {
    "content-type": form ? "application/x-www-form-urlencoded" : "application/json",
    "x-slack-request-timestamp": String(t),
    "x-slack-signature": "v0=" +
      createHmac("sha256", secret).update(`v0:${t}:${body}`).digest("hex"),
  };
}
const forbidden = (body: string, t: number) => [
  SECRET,
  OLD_SECRET,
  WRONG,
  ...[SECRET, WRONG].map((s) => createHmac("sha256", s).update(`v0:${t}:${body}`).digest("hex")),
];

const mention = JSON.stringify({
  token: "x",
  team_id: "T1",
  type: "event_callback",
  event_id: "Ev08MFMKH6",
  event_time: 1700000000,
  event: { type: "app_mention", user: "U1", text: "<@U0> hi", channel: "C1", ts: "1.2" },
});

Deno.test("slack: an event_callback signed per Slack's scheme verifies; id is event_id, type the inner event.type", async () => {
  const r = assertVerified(
    await slack.createVerifier(webhook, [SECRET]).verify(request(oracle(mention), mention)),
  );
  assert.equal(r.id, "Ev08MFMKH6");
  assert.equal(r.type, "app_mention");
  assert.equal(r.payload, mention);
  assert.equal(r.reply, undefined);
});

Deno.test("slack: our sign matches the independently computed signature", async () => {
  const t = seconds(Date.now());
  const signed = await slack.sign(webhook, mention, { secret: SECRET, timestamp: t });
  assert.deepEqual(signed, oracle(mention, SECRET, t));
  const form = "command=%2Fdeploy&trigger_id=1.2.3";
  const signedForm = await slack.sign(webhook, form, { secret: SECRET, timestamp: t });
  assert.deepEqual(signedForm, oracle(form, SECRET, t, true));
});

Deno.test("slack: url_verification is answered with its challenge", async () => {
  const body = JSON.stringify({
    token: "x",
    challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    type: "url_verification",
  });
  const r = assertVerified(
    await slack.createVerifier(webhook, [SECRET]).verify(request(oracle(body), body)),
  );
  assert.equal(r.type, "url_verification");
  assert.deepEqual(r.reply, {
    status: 200,
    body: { challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" },
  });
});

Deno.test("slack: app_rate_limited is acknowledged with a reply and not stored", async () => {
  const body = JSON.stringify({
    token: "x",
    type: "app_rate_limited",
    team_id: "T1",
    minute_rate_limited: 1518467820,
    api_app_id: "A1",
  });
  const r = assertVerified(
    await slack.createVerifier(webhook, [SECRET]).verify(request(oracle(body), body)),
  );
  assert.equal(r.type, "app_rate_limited");
  assert.equal(r.reply?.status, 200);
});

Deno.test("slack: an interactivity form is interactive.<type>, id trigger_id, payload the JSON field", async () => {
  const payload = JSON.stringify({
    type: "block_actions",
    trigger_id: "13345224609.738474920.8088930838d88f008e0",
    user: { id: "U1" },
    actions: [{ action_id: "approve" }],
  });
  const form = new URLSearchParams({ payload }).toString();
  const verifier = slack.createVerifier(webhook, [SECRET]);
  const r = assertVerified(
    await verifier.verify(request(oracle(form, SECRET, undefined, true), form)),
  );
  assert.equal(r.type, "interactive.block_actions");
  assert.equal(r.id, "13345224609.738474920.8088930838d88f008e0");
  assert.deepEqual(JSON.parse(r.payload), JSON.parse(payload));

  const noTrigger = JSON.stringify({ type: "block_suggestion", value: "ab" });
  const form2 = new URLSearchParams({ payload: noTrigger }).toString();
  const r2 = assertVerified(
    await verifier.verify(request(oracle(form2, SECRET, undefined, true), form2)),
  );
  assert.equal(r2.type, "interactive.block_suggestion");
  assert.equal(r2.id, createHash("sha256").update(form2).digest("hex"));
});

Deno.test("slack: a slash command form is slash_command, id trigger_id, payload the form as JSON", async () => {
  const fields = {
    token: "x",
    team_id: "T1",
    command: "/deploy",
    text: "prod now",
    user_id: "U1",
    trigger_id: "123.456.abc",
    response_url: "https://hooks.slack.com/commands/1/2/3",
  };
  const form = new URLSearchParams(fields).toString();
  const verifier = slack.createVerifier(webhook, [SECRET]);
  const r = assertVerified(
    await verifier.verify(request(oracle(form, SECRET, undefined, true), form)),
  );
  assert.equal(r.type, "slash_command");
  assert.equal(r.id, "123.456.abc");
  assert.deepEqual(JSON.parse(r.payload), fields);

  const noTrigger = new URLSearchParams({ command: "/deploy" }).toString();
  assertRejected(
    await verifier.verify(request(oracle(noTrigger, SECRET, undefined, true), noTrigger)),
    "missing_id",
  );
  const neither = "foo=bar";
  assertRejected(
    await verifier.verify(request(oracle(neither, SECRET, undefined, true), neither)),
    "missing_type",
  );
  const badJson = "payload=%7Bnope";
  assertRejected(
    await verifier.verify(request(oracle(badJson, SECRET, undefined, true), badJson)),
    "invalid_json",
  );
});

Deno.test("slack: the second secret of the rotation list may match", async () => {
  const verifier = slack.createVerifier(webhook, [OLD_SECRET, SECRET]);
  assertVerified(await verifier.verify(request(oracle(mention, SECRET), mention)));
});

Deno.test("slack: missing signature or timestamp headers are missing_signature", async () => {
  const verifier = slack.createVerifier(webhook, [SECRET]);
  for (const name of ["x-slack-signature", "x-slack-request-timestamp"]) {
    const h: Record<string, string> = oracle(mention);
    delete h[name];
    assertRejected(
      await verifier.verify(request(h, mention)),
      "missing_signature",
      forbidden(mention, seconds(Date.now())),
    );
  }
});

Deno.test("slack: a tampered body, a wrong secret or a malformed signature is bad_signature", async () => {
  const verifier = slack.createVerifier(webhook, [SECRET]);
  const t = seconds(Date.now());
  const tampered = mention.replace("hi", "bye");
  assertRejected(
    await verifier.verify(request(oracle(mention, SECRET, t), tampered)),
    "bad_signature",
    [
      ...forbidden(mention, t),
      ...forbidden(tampered, t),
    ],
  );
  assertRejected(
    await verifier.verify(request(oracle(mention, WRONG, t), mention)),
    "bad_signature",
    forbidden(mention, t),
  );
  const malformed = { ...oracle(mention, SECRET, t), "x-slack-signature": "v1=abcd" };
  assertRejected(await verifier.verify(request(malformed, mention)), "bad_signature");
  // A hex value of the wrong length is a malformed header, not a wrong secret.
  const short = { ...oracle(mention, SECRET, t), "x-slack-signature": "v0=abcd" };
  const r = assertRejected(await verifier.verify(request(short, mention)), "bad_signature");
  assert.match(r.message, /must look like v0=<64 hex digits>/);
});

Deno.test("slack: a timestamp beyond tolerance either way is stale_timestamp, checked before the signature", async () => {
  const now = Date.now();
  const verifier = slack.createVerifier(webhook, [SECRET]);
  for (const offset of [-301, 301]) {
    const t = seconds(now) + offset;
    assertRejected(
      await verifier.verify(request(oracle(mention, SECRET, t), mention, now)),
      "stale_timestamp",
      forbidden(mention, t),
    );
  }
  const t = seconds(now) - 3600;
  assertRejected(
    await verifier.verify(request(oracle(mention, WRONG, t), mention, now)),
    "stale_timestamp",
  );
  assertVerified(
    await verifier.verify(request(oracle(mention, SECRET, seconds(now) + 200), mention, now)),
  );
});

Deno.test("slack: invalid JSON, a missing event_id or event.type are rejected after the signature", async () => {
  const verifier = slack.createVerifier(webhook, [SECRET]);
  assertRejected(await verifier.verify(request(oracle("{x"), "{x")), "invalid_json");
  assertRejected(await verifier.verify(request(oracle("{x", WRONG), "{x")), "bad_signature");
  const noId = JSON.stringify({ type: "event_callback", event: { type: "app_mention" } });
  assertRejected(await verifier.verify(request(oracle(noId), noId)), "missing_id");
  const noType = JSON.stringify({ type: "event_callback", event_id: "Ev1", event: {} });
  assertRejected(await verifier.verify(request(oracle(noType), noType)), "missing_type");
  const noTop = JSON.stringify({ event_id: "Ev1" });
  assertRejected(await verifier.verify(request(oracle(noTop), noTop)), "missing_type");
});

Deno.test("slack: verify_signature false still answers challenges and extracts ids", async () => {
  const verifier = slack.createVerifier(webhookConfig("slack", { verify_signature: false }), []);
  const r = assertVerified(
    await verifier.verify(request({ "content-type": "application/json" }, mention)),
  );
  assert.deepEqual([r.id, r.type], ["Ev08MFMKH6", "app_mention"]);
  const challenge = JSON.stringify({ type: "url_verification", challenge: "abc" });
  assert.deepEqual(assertVerified(await verifier.verify(request({}, challenge))).reply?.body, {
    challenge: "abc",
  });
});

Deno.test("slack: sample is an app_mention event_callback with fresh ids that verifies once signed", async () => {
  const a = slack.sample();
  const b = slack.sample();
  assert.equal(a.type, "app_mention");
  const pa = JSON.parse(a.body);
  assert.equal(pa.type, "event_callback");
  assert.notEqual(pa.event_id, JSON.parse(b.body).event_id);
  const signed = await slack.sign(webhook, a.body, { secret: SECRET });
  const r = assertVerified(
    await slack.createVerifier(webhook, [SECRET]).verify(request(signed, a.body)),
  );
  assert.deepEqual([r.id, r.type], [pa.event_id, "app_mention"]);
});
