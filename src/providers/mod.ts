/**
 * Every provider kind by type.
 *
 * @example
 * ```ts
 * import { PROVIDERS } from "./mod.ts";
 * const kind = PROVIDERS["stripe"];
 * const { type, body } = kind.sample();
 * ```
 * @module
 */
import type { ProviderType } from "../config/schema.ts";
import { github } from "./github.ts";
import { hmac } from "./hmac.ts";
import { checkIdentity } from "./_shared.ts";
import type { ProviderKind } from "./provider.ts";
import { slack } from "./slack.ts";
import { standard } from "./standard.ts";
import { stripe } from "./stripe.ts";

/**
 * `kind` with every verified event's id and type checked by {@linkcode checkIdentity}, so no
 * provider can hand the inbox an id it cannot store and dedupe exactly.
 */
function _checked(kind: ProviderKind): ProviderKind {
  return {
    ...kind,
    createVerifier(webhook, secrets) {
      const verifier = kind.createVerifier(webhook, secrets);
      return {
        async verify(request) {
          const result = await verifier.verify(request);
          if (!result.ok || result.reply) return result;
          return checkIdentity(result.id, result.type) ?? result;
        },
      };
    },
  };
}

/** The {@linkcode ProviderKind} of each {@linkcode ProviderType}. */
export const PROVIDERS: Record<ProviderType, ProviderKind> = Object.freeze({
  stripe: _checked(stripe),
  github: _checked(github),
  slack: _checked(slack),
  standard: _checked(standard),
  hmac: _checked(hmac),
});
