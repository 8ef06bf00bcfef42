import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { UserError } from "../../src/errors.ts";
import { standard, UNKNOWN_TYPE } from "../../src/providers/standard.ts";
import vectors from "./vectors/standard_webhooks.json" with { type: "json" };
import { assertRejected, assertVerified, request, seconds, webhookConfig } from "./_helpers.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD_SECRET = "whsec_" + btoa("old-secret-bytes-0123456789abcdef");
const WRONG = "whsec_" + btoa("wrong-secret-bytes-0123456789abc");
const webhook = webhookConfig("standard");
const MSG = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
const body = JSON.stringify({
  type: "invoice.paid",
  timestamp: "2024-05-01T10:00:00Z",
  data: { id: "inv_1", amount: 4200 },
});

function oracleHeaders(payload: string, secret = SECRET, id = MSG, t = seconds(Date.now())) {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(t),
    "webhook-signature": new Webhook(secret).sign(id, new Date(t * 1000), payload),
  };
}
const forbidden = (payload: string, t: number) => [
  SECRET,
  SECRET.slice(6),
  OLD_SECRET,
  WRONG,
  ...[SECRET, WRONG].map((s) => new Webhook(s).sign(MSG, new Date(t * 1000), payload).slice(3)),
];

Deno.test("standard: a signature from the standardwebhooks library verifies; id from webhook-id, type from the payload", async () => {
  const result = assertVerified(
    await standard.createVerifier(webhook, [SECRET]).verify(request(oracleHeaders(body), body)),
  );
  assert.equal(result.id, MSG);
  assert.equal(result.type, "invoice.paid");
  assert.equal(result.payload, body);
});

Deno.test("standard: our sign is accepted by the standardwebhooks library", async () => {
  const signed = await standard.sign(webhook, body, { secret: SECRET, id: MSG });
  assert.equal(signed["content-type"], "application/json");
  assert.equal(signed["webhook-id"], MSG);
  assert.deepEqual(new Webhook(SECRET).verify(body, signed), JSON.parse(body));
  assert.throws(() => new Webhook(WRONG).verify(body, signed));
  const fresh = await standard.sign(webhook, body, { secret: SECRET });
  assert.match(fresh["webhook-id"], /^msg_[A-Za-z0-9]{27}$/);
});

Deno.test("standard: a secret without the whsec_ prefix is the same key", async () => {
  const bare = SECRET.slice("whsec_".length);
  assertVerified(
    await standard.createVerifier(webhook, [bare]).verify(request(oracleHeaders(body), body)),
  );
  const signed = await standard.sign(webhook, body, { secret: bare });
  assert.deepEqual(new Webhook(SECRET).verify(body, signed), JSON.parse(body));
});

Deno.test("standard: the second secret of the rotation list may match; any v1 entry may match; other versions are ignored", async () => {
  const verifier = standard.createVerifier(webhook, [OLD_SECRET, SECRET]);
  assertVerified(await verifier.verify(request(oracleHeaders(body), body)));
  const t = seconds(Date.now());
  const good = new Webhook(SECRET).sign(MSG, new Date(t * 1000), body);
  const bad = new Webhook(WRONG).sign(MSG, new Date(t * 1000), body);
  const h = { "webhook-id": MSG, "webhook-timestamp": String(t) };
  const single = standard.createVerifier(webhook, [SECRET]);
  assertVerified(
    await single.verify(request({ ...h, "webhook-signature": `${bad} v2,xyz ${good}` }, body)),
  );
  const onlyV2 = `v2,${good.slice(3)}`;
  assertRejected(
    await single.verify(request({ ...h, "webhook-signature": onlyV2 }, body)),
    "missing_signature",
    forbidden(body, t),
  );
});

Deno.test("standard: svix-* headers are read when webhook-* are absent", async () => {
  const h = oracleHeaders(body);
  const svix = {
    "svix-id": h["webhook-id"],
    "svix-timestamp": h["webhook-timestamp"],
    "svix-signature": h["webhook-signature"],
  };
  assertVerified(await standard.createVerifier(webhook, [SECRET]).verify(request(svix, body)));
});

Deno.test("standard: missing headers: webhook-id is missing_id, signature or timestamp missing_signature", async () => {
  const verifier = standard.createVerifier(webhook, [SECRET]);
  for (
    const [name, code] of [
      ["webhook-id", "missing_id"],
      ["webhook-signature", "missing_signature"],
      ["webhook-timestamp", "missing_signature"],
    ] as const
  ) {
    const h: Record<string, string> = oracleHeaders(body);
    delete h[name];
    assertRejected(await verifier.verify(request(h, body)), code, [SECRET]);
  }
});

Deno.test("standard: a tampered body, a changed id or a wrong secret is bad_signature", async () => {
  const verifier = standard.createVerifier(webhook, [SECRET]);
  const t = seconds(Date.now());
  const tampered = body.replace("4200", "1");
  assertRejected(await verifier.verify(request(oracleHeaders(body), tampered)), "bad_signature", [
    ...forbidden(body, t),
    ...forbidden(tampered, t),
  ]);
  const otherId = { ...oracleHeaders(body), "webhook-id": "msg_other" };
  assertRejected(
    await verifier.verify(request(otherId, body)),
    "bad_signature",
    forbidden(body, t),
  );
  assertRejected(
    await verifier.verify(request(oracleHeaders(body, WRONG), body)),
    "bad_signature",
    forbidden(body, t),
  );
});

Deno.test("standard: timestamps beyond tolerance either way are stale_timestamp", async () => {
  const now = Date.now();
  const verifier = standard.createVerifier(webhook, [SECRET]);
  for (const offset of [-301, 301]) {
    const t = seconds(now) + offset;
    assertRejected(
      await verifier.verify(request(oracleHeaders(body, SECRET, MSG, t), body, now)),
      "stale_timestamp",
      forbidden(body, t),
    );
  }
  assertVerified(
    await verifier.verify(request(oracleHeaders(body, SECRET, MSG, seconds(now) - 250), body, now)),
  );
  const ms = { ...oracleHeaders(body), "webhook-timestamp": String(now) };
  assertRejected(await verifier.verify(request(ms, body, now)), "stale_timestamp");
});

Deno.test("standard: invalid JSON is rejected; a body without type is stored as type unknown, after the signature", async () => {
  const verifier = standard.createVerifier(webhook, [SECRET]);
  assertRejected(await verifier.verify(request(oracleHeaders("[nope"), "[nope")), "invalid_json");
  const noType = JSON.stringify({ data: {} });
  const r = assertVerified(await verifier.verify(request(oracleHeaders(noType), noType)));
  assert.deepEqual([r.type, r.payload], [UNKNOWN_TYPE, noType]);
  for (const odd of ['{"type":""}', '{"type":7}', "[1]", '"text"']) {
    const v = assertVerified(await verifier.verify(request(oracleHeaders(odd), odd)));
    assert.equal(v.type, "unknown", odd);
  }
  assertRejected(
    await verifier.verify(request(oracleHeaders(noType, WRONG), noType)),
    "bad_signature",
  );
});

Deno.test("standard: verify_signature false still takes the id from webhook-id and the type from the payload", async () => {
  const verifier = standard.createVerifier(
    webhookConfig("standard", { verify_signature: false }),
    [],
  );
  const r = assertVerified(await verifier.verify(request({ "webhook-id": "msg_x" }, body)));
  assert.deepEqual([r.id, r.type], ["msg_x", "invoice.paid"]);
  assertRejected(await verifier.verify(request({}, body)), "missing_id");
  assert.equal(
    assertVerified(await verifier.verify(request({ "webhook-id": "m" }, "{}"))).type,
    "unknown",
  );
});

Deno.test("standard: a secret that is not base64 is a UserError at setup that does not echo it", () => {
  const broken = "whsec_not*base64!";
  assert.throws(() => standard.createVerifier(webhook, [SECRET, broken]), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /#2/);
    assert.ok(!e.message.includes(broken));
    return true;
  });
});

Deno.test("standard: an independent HMAC over id.timestamp.body with the decoded key verifies", async () => {
  const t = seconds(Date.now());
  const key = Buffer.from(SECRET.slice(6), "base64");
  const sig = createHmac("sha256", key).update(`${MSG}.${t}.${body}`).digest("base64");
  const h = { "webhook-id": MSG, "webhook-timestamp": String(t), "webhook-signature": `v1,${sig}` };
  assertVerified(await standard.createVerifier(webhook, [SECRET]).verify(request(h, body)));
});

Deno.test("standard: sample is an invoice.paid payload, fresh each call, that verifies once signed", async () => {
  const a = standard.sample();
  const b = standard.sample();
  assert.equal(a.type, "invoice.paid");
  assert.equal(JSON.parse(a.body).type, "invoice.paid");
  assert.notEqual(JSON.parse(a.body).data.id, JSON.parse(b.body).data.id);
  const signed = await standard.sign(webhook, a.body, { secret: SECRET });
  new Webhook(SECRET).verify(a.body, signed);
  assert.equal(
    assertVerified(await standard.createVerifier(webhook, [SECRET]).verify(request(signed, a.body)))
      .type,
    "invoice.paid",
  );
});

Deno.test("standard: type_path names where the type is (JSON pointer); absent there → unknown", async () => {
  const hook = webhookConfig("standard", { type_path: "/event/kind" });
  const verifier = standard.createVerifier(hook, [SECRET]);
  const nested = JSON.stringify({ type: "ignored.here", event: { kind: "order.created" } });
  const r = assertVerified(await verifier.verify(request(oracleHeaders(nested), nested)));
  assert.equal(r.type, "order.created");
  assert.equal(
    assertVerified(await verifier.verify(request(oracleHeaders(body), body))).type,
    "unknown",
  );
});

Deno.test("standard: the timestamp boundary: at the tolerance is stale (past), at +tolerance is fresh (future)", async () => {
  const now = 1_700_000_000_500;
  const verifier = standard.createVerifier(webhook, [SECRET]);
  const at = (offset: number) => {
    const t = seconds(now) + offset;
    return verifier.verify(request(oracleHeaders(body, SECRET, MSG, t), body, now));
  };
  assertRejected(await at(-300), "stale_timestamp");
  assertVerified(await at(-299));
  assertVerified(await at(300));
  assertRejected(await at(301), "stale_timestamp");
});

// --- The reference libraries' own test cases (tests/providers/vectors/standard_webhooks.json) ---

interface VerifyVector {
  name: string;
  valid: boolean;
  secret?: string;
  signing_secret?: string;
  drop_header?: string;
  timestamp_header?: string;
  timestamp_offset?: number;
  signature?: string;
  truncate_signature?: number;
  signature_list?: string[];
}

const NOW = 1_614_265_330_000 + 123; // any instant; vectors are relative to it

async function vectorRequest(v: VerifyVector) {
  const d = vectors.defaults;
  const t = seconds(NOW) + (v.timestamp_offset ?? 0);
  const signingKey = Buffer.from(
    (v.signing_secret ?? v.secret ?? d.secret).replace(/^whsec_/, ""),
    "base64",
  );
  const valid = "v1," +
    createHmac("sha256", signingKey).update(`${d.msg_id}.${t}.${d.payload}`).digest("base64");
  let signature = v.signature ?? valid;
  if (v.truncate_signature !== undefined) signature = valid.slice(0, v.truncate_signature);
  if (v.signature_list) {
    signature = v.signature_list.map((s) => s === "$valid" ? valid : s).join(" ");
  }
  const headers: Record<string, string> = {
    "webhook-id": d.msg_id,
    "webhook-timestamp": v.timestamp_header ?? String(t),
    "webhook-signature": signature,
  };
  if (v.drop_header) delete headers[v.drop_header];
  const hook = webhookConfig("standard", { tolerance_seconds: d.tolerance_seconds });
  const verifier = standard.createVerifier(hook, [v.secret ?? d.secret]);
  return await verifier.verify(request(headers, d.payload, NOW));
}

Deno.test("standard: every verify case of the reference libraries (Python, Go, JavaScript) holds", async () => {
  const failures: string[] = [];
  for (const v of vectors.verify as VerifyVector[]) {
    const result = await vectorRequest(v);
    if (result.ok !== v.valid) {
      failures.push(
        `${v.name}: expected ${v.valid ? "valid" : "rejected"}, got ` +
          (result.ok ? "valid" : `${result.code}: ${result.message}`),
      );
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(vectors.verify.length >= 20);
});

Deno.test("standard: sign reproduces the reference libraries' published signature", async () => {
  for (const v of vectors.sign) {
    const signed = await standard.sign(webhook, v.payload, {
      secret: v.secret,
      id: v.msg_id,
      timestamp: v.timestamp,
    });
    assert.equal(signed["webhook-signature"], v.signature);
  }
});

Deno.test("standard: the secrets the reference libraries refuse are refused at setup", () => {
  for (const { secret } of vectors.refused_secrets) {
    assert.throws(
      () => standard.createVerifier(webhook, [secret]),
      UserError,
      JSON.stringify(secret),
    );
  }
});
