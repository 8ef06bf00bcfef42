/**
 * GitHub webhooks: `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 over the raw body.
 * id is `X-GitHub-Delivery`; type is `X-GitHub-Event`, plus `.<action>` when the payload has
 * a string `action` (`pull_request.opened`; `push` stays `push`). GitHub signs no timestamp,
 * so there is no replay window; dedupe by delivery id covers redeliveries.
 *
 * A `ping` (sent when a hook is created) verifies and gets the reply
 * `{ received: true, ping: true }`; it is not stored.
 *
 * Hooks configured with content type `application/x-www-form-urlencoded` send the JSON in a
 * `payload=` form field; the signature still covers the raw form body, and the stored payload
 * is that field's JSON text.
 *
 * @example
 * ```ts
 * import { github } from "./github.ts";
 * const { type, body } = github.sample("pull_request.opened");
 * // const headers = await github.sign(webhook, body, { secret, type });
 * ```
 * @module
 */
import type { WebhookConfig } from "../config/schema.ts";
import { computeHmac, DIGEST_BYTES, signatureHex } from "./_crypto.ts";
import { type Delivery, isFormBody, reject, stringField, templateVerifier } from "./_shared.ts";
import type { ProviderKind, Verifier, VerifyResult } from "./provider.ts";

const _PREFIX = "sha256=";

function _createVerifier(webhook: WebhookConfig, secrets: readonly string[]): Verifier {
  return templateVerifier(webhook, secrets, {
    signatureName: "X-Hub-Signature-256",
    signed(headers) {
      const header = headers.get("x-hub-signature-256");
      if (!header) {
        return reject(
          "missing_signature",
          "missing X-Hub-Signature-256 header: set a secret on the GitHub webhook (Settings → " +
            "Webhooks → Secret) equal to this webhook's signing secret",
        );
      }
      const sig = signatureHex(header, _PREFIX, DIGEST_BYTES.sha256);
      if (!sig) {
        return reject(
          "bad_signature",
          "X-Hub-Signature-256 must look like sha256=<64 hex digits>: send the header exactly " +
            "as GitHub produced it",
        );
      }
      return { prefix: "", hexSignatures: [sig] };
    },
    unwrap(text, headers) {
      if (!isFormBody(headers)) return text;
      const field = new URLSearchParams(text).get("payload");
      if (field !== null) return field;
      return reject(
        "invalid_json",
        "form body has no payload= field: set the GitHub webhook's content type to " +
          "application/json",
      );
    },
    identify: _identify,
  });
}

/** A GitHub delivery's id (`X-GitHub-Delivery`) and type (`X-GitHub-Event[.action]`). */
function _identify({ headers, text, value }: Delivery): VerifyResult {
  const id = headers.get("x-github-delivery");
  if (!id) {
    return reject(
      "missing_id",
      "missing X-GitHub-Delivery header: send the delivery GUID GitHub assigned",
    );
  }
  const event = headers.get("x-github-event");
  if (!event) {
    return reject(
      "missing_type",
      "missing X-GitHub-Event header: send the event name, e.g. push or pull_request",
    );
  }
  if (event === "ping") {
    return {
      ok: true,
      id,
      type: "ping",
      payload: text,
      reply: { status: 200, body: { received: true, ping: true } },
    };
  }
  const action = stringField(value, "action");
  return { ok: true, id, type: action ? `${event}.${action}` : event, payload: text };
}

const _repository = () => ({
  id: 1296269,
  node_id: "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
  name: "hello-world",
  full_name: "octocat/hello-world",
  private: false,
  owner: { login: "octocat", id: 1, type: "User" },
  html_url: "https://github.com/octocat/hello-world",
  default_branch: "main",
});
const _sender = () => ({ login: "octocat", id: 1, type: "User" });

function _sha(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A `push` (default), `ping`, or `<event>.<action>` sample payload. */
function _sample(type = "push"): { type: string; body: string } {
  const [event, action] = type.split(".", 2);
  let payload: Record<string, unknown>;
  if (event === "push") {
    const before = _sha();
    const after = _sha();
    payload = {
      ref: "refs/heads/main",
      before,
      after,
      created: false,
      deleted: false,
      forced: false,
      compare: `https://github.com/octocat/hello-world/compare/${before.slice(0, 12)}...${
        after.slice(0, 12)
      }`,
      commits: [{
        id: after,
        message: "Update README",
        timestamp: new Date().toISOString(),
        author: { name: "The Octocat", email: "octocat@github.com", username: "octocat" },
        added: [],
        removed: [],
        modified: ["README.md"],
      }],
      head_commit: { id: after, message: "Update README" },
      pusher: { name: "octocat", email: "octocat@github.com" },
      repository: _repository(),
      sender: _sender(),
    };
  } else if (event === "ping") {
    payload = {
      zen: "Keep it logically awesome.",
      hook_id: 100_000_000 + (crypto.getRandomValues(new Uint32Array(1))[0] % 900_000_000),
      hook: { type: "Repository", active: true, events: ["push"] },
      repository: _repository(),
      sender: _sender(),
    };
  } else if (event === "pull_request") {
    const number = 1 + (crypto.getRandomValues(new Uint16Array(1))[0] % 1000);
    payload = {
      action: action ?? "opened",
      number,
      pull_request: {
        number,
        state: "open",
        title: "Add a feature",
        head: { ref: "feature", sha: _sha() },
        base: { ref: "main", sha: _sha() },
        user: _sender(),
      },
      repository: _repository(),
      sender: _sender(),
    };
  } else {
    payload = {
      ...(action ? { action } : {}),
      repository: _repository(),
      sender: _sender(),
    };
  }
  const finalType = typeof payload.action === "string" ? `${event}.${payload.action}` : event;
  return { type: finalType, body: JSON.stringify(payload, null, 2) };
}

/** Headers that make `body` verify for `webhook` with `options.secret`. */
// deno-lint-ignore require-await
const _sign: ProviderKind["sign"] = async (_webhook, body, { secret, id, type }) => {
  return {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/whd",
    "x-github-delivery": id ?? crypto.randomUUID(),
    "x-github-event": (type ?? "push").split(".")[0],
    "x-hub-signature-256": _PREFIX + computeHmac("sha256", secret, body).toString("hex"),
  };
};

/**
 * The GitHub provider.
 *
 * `sign` sets `X-GitHub-Event` to the part of `options.type` before the first dot (default
 * `push`) and `X-GitHub-Delivery` to `options.id` (default a random UUID).
 *
 * @example
 * ```ts
 * import { github } from "./github.ts";
 * // const verifier = github.createVerifier(webhook, [secret]);
 * ```
 */
export const github: ProviderKind = {
  type: "github",
  createVerifier: _createVerifier,
  sign: _sign,
  sample: _sample,
};
