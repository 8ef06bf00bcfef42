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
import type { ProviderKind } from "./provider.ts";
import { slack } from "./slack.ts";
import { standard } from "./standard.ts";
import { stripe } from "./stripe.ts";

/** The {@linkcode ProviderKind} of each {@linkcode ProviderType}. */
export const PROVIDERS: Record<ProviderType, ProviderKind> = Object.freeze({
  stripe,
  github,
  slack,
  standard,
  hmac,
});
