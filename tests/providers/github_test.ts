import assert from "node:assert/strict";
import { sign as octoSign, verify as octoVerify } from "@octokit/webhooks-methods";
import { github } from "../../src/providers/github.ts";
import { assertRejected, assertVerified, request, webhookConfig } from "./_helpers.ts";

const SECRET = "gh-secret-Qw8Ep3Rz7Ty2Ui6O";
const OLD_SECRET = "gh-old-secret-Lk2Jh5Gf8Ds1";
const WRONG = "gh-wrong-secret-Zx4Cv7Bn0Mm";
const webhook = webhookConfig("github");
const DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
const push = JSON.stringify({ ref: "refs/heads/main", commits: [], repository: { id: 1 } });
const opened = JSON.stringify({ action: "opened", number: 7, pull_request: { number: 7 } });

async function headers(
  body: string,
  event: string,
  secret = SECRET,
): Promise<Record<string, string>> {
  return {
    "content-type": "application/json",
    "x-github-delivery": DELIVERY,
    "x-github-event": event,
    "x-hub-signature-256": await octoSign(secret, body),
  };
}
const forbidden = async (body: string) => [
  SECRET,
  OLD_SECRET,
  WRONG,
  await octoSign(SECRET, body),
  (await octoSign(SECRET, body)).slice(7),
  (await octoSign(WRONG, body)).slice(7),
];

Deno.test("github: a signature from @octokit/webhooks-methods verifies; id is the delivery, type the event", async () => {
  const verifier = github.createVerifier(webhook, [SECRET]);
  const result = assertVerified(await verifier.verify(request(await headers(push, "push"), push)));
  assert.equal(result.id, DELIVERY);
  assert.equal(result.type, "push");
  assert.equal(result.payload, push);
  assert.equal(result.reply, undefined);
});

Deno.test("github: a string action is appended to the event: pull_request.opened", async () => {
  const verifier = github.createVerifier(webhook, [SECRET]);
  const result = assertVerified(
    await verifier.verify(request(await headers(opened, "pull_request"), opened)),
  );
  assert.equal(result.type, "pull_request.opened");
  const numeric = JSON.stringify({ action: 3 });
  const r2 = assertVerified(
    await verifier.verify(request(await headers(numeric, "check"), numeric)),
  );
  assert.equal(r2.type, "check");
});

Deno.test("github: our sign is accepted by @octokit/webhooks-methods verify", async () => {
  const signed = await github.sign(webhook, opened, {
    secret: SECRET,
    id: DELIVERY,
    type: "pull_request.opened",
  });
  assert.equal(signed["content-type"], "application/json");
  assert.equal(signed["x-github-event"], "pull_request");
  assert.equal(signed["x-github-delivery"], DELIVERY);
  assert.equal(await octoVerify(SECRET, opened, signed["x-hub-signature-256"]), true);
  assert.equal(await octoVerify(WRONG, opened, signed["x-hub-signature-256"]), false);
  const defaults = await github.sign(webhook, push, { secret: SECRET });
  assert.equal(defaults["x-github-event"], "push");
  assert.match(defaults["x-github-delivery"], /^[0-9a-f-]{36}$/);
});

Deno.test("github: ping verifies with the reply { received: true, ping: true }", async () => {
  const ping = JSON.stringify({
    zen: "Design for failure.",
    hook_id: 1,
    hook: { type: "Repository" },
  });
  const result = assertVerified(
    await github.createVerifier(webhook, [SECRET]).verify(
      request(await headers(ping, "ping"), ping),
    ),
  );
  assert.equal(result.type, "ping");
  assert.deepEqual(result.reply, { status: 200, body: { received: true, ping: true } });
});

Deno.test("github: the second secret of the rotation list may match", async () => {
  const verifier = github.createVerifier(webhook, [OLD_SECRET, SECRET]);
  assertVerified(await verifier.verify(request(await headers(push, "push", SECRET), push)));
  assertVerified(await verifier.verify(request(await headers(push, "push", OLD_SECRET), push)));
});

Deno.test("github: a missing header is missing_signature; a malformed one bad_signature", async () => {
  const verifier = github.createVerifier(webhook, [SECRET]);
  const h = await headers(push, "push");
  delete h["x-hub-signature-256"];
  assertRejected(await verifier.verify(request(h, push)), "missing_signature");
  const sha1Style = { ...h, "x-hub-signature-256": "sha1=" + "a".repeat(40) };
  assertRejected(await verifier.verify(request(sha1Style, push)), "bad_signature");
  // A hex value of the wrong length is a malformed header, not a wrong secret.
  const short = { ...h, "x-hub-signature-256": "sha256=" + "a".repeat(40) };
  const r = assertRejected(await verifier.verify(request(short, push)), "bad_signature");
  assert.match(r.message, /must look like sha256=<64 hex digits>/);
});

Deno.test("github: a tampered body or a wrong secret is bad_signature, without leaking either", async () => {
  const verifier = github.createVerifier(webhook, [SECRET]);
  const tampered = push.replace("main", "evil");
  assertRejected(
    await verifier.verify(request(await headers(push, "push"), tampered)),
    "bad_signature",
    [...(await forbidden(push)), ...(await forbidden(tampered))],
  );
  assertRejected(
    await verifier.verify(request(await headers(push, "push", WRONG), push)),
    "bad_signature",
    await forbidden(push),
  );
});

Deno.test("github: invalid JSON, a missing delivery id or event name are rejected after the signature", async () => {
  const verifier = github.createVerifier(webhook, [SECRET]);
  assertRejected(
    await verifier.verify(request(await headers("{oops", "push"), "{oops")),
    "invalid_json",
  );
  assertRejected(
    await verifier.verify(request(await headers("{oops", "push", WRONG), "{oops")),
    "bad_signature",
  );
  const noId = await headers(push, "push");
  delete noId["x-github-delivery"];
  assertRejected(await verifier.verify(request(noId, push)), "missing_id", await forbidden(push));
  const noType = await headers(push, "push");
  delete noType["x-github-event"];
  assertRejected(
    await verifier.verify(request(noType, push)),
    "missing_type",
    await forbidden(push),
  );
});

Deno.test("github: a form-encoded delivery verifies over the raw form and stores the payload field", async () => {
  const form = new URLSearchParams({ payload: opened }).toString();
  const h = {
    ...(await headers(form, "pull_request")),
    "content-type": "application/x-www-form-urlencoded",
  };
  const result = assertVerified(
    await github.createVerifier(webhook, [SECRET]).verify(request(h, form)),
  );
  assert.equal(result.payload, opened);
  assert.equal(result.type, "pull_request.opened");
});

Deno.test("github: verify_signature false skips the signature but still needs delivery and event", async () => {
  const verifier = github.createVerifier(webhookConfig("github", { verify_signature: false }), []);
  const h = { "x-github-delivery": DELIVERY, "x-github-event": "pull_request" };
  assert.equal(
    assertVerified(await verifier.verify(request(h, opened))).type,
    "pull_request.opened",
  );
  assertRejected(await verifier.verify(request({ "x-github-event": "push" }, push)), "missing_id");
});

Deno.test("github: samples are a push by default, fresh each call, and sign into verified deliveries", async () => {
  const a = github.sample();
  const b = github.sample();
  assert.equal(a.type, "push");
  assert.notEqual(JSON.parse(a.body).after, JSON.parse(b.body).after);
  const verifier = github.createVerifier(webhook, [SECRET]);
  for (const s of [a, github.sample("pull_request.closed"), github.sample("ping")]) {
    const signed = await github.sign(webhook, s.body, { secret: SECRET, type: s.type });
    const result = assertVerified(await verifier.verify(request(signed, s.body)));
    assert.equal(result.type, s.type);
  }
  assert.equal(github.sample("pull_request.closed").type, "pull_request.closed");
});
