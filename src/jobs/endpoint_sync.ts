/**
 * Endpoint sync: compare the Stripe webhooks in the config with the account's webhook
 * endpoints, make a plan (create missing, update drifted url/`enabled_events`, list extras,
 * delete them with `prune`) and apply it.
 *
 * An endpoint belongs to a configured webhook when its metadata says so (`whd_webhook:
 * <provider>/<webhook>`, set on every endpoint whd creates) or, failing that, when its url is
 * the webhook's url.
 *
 * @example
 * ```ts
 * import { applySync, desiredEndpoints, planSync } from "./endpoint_sync.ts";
 * const api = endpointApi(stripe, provider);
 * const plan = planSync(provider, desiredEndpoints(config, provider), await api.list());
 * await applySync(plan, { api, provider, onSecret: (d, secret) => save(d.secretEnv, secret) });
 * ```
 * @module
 */
import type { Config, ProviderConfig, WebhookConfig } from "../config/schema.ts";
import { secretEnvNames } from "../config/secrets.ts";
import { UserError } from "../errors.ts";
import type { StripeEndpoint } from "../providers/stripe_api.ts";
import { type EndpointApi, toEnabledEvents } from "../providers/stripe_endpoints.ts";

/** Metadata key whd puts on the endpoints it creates. */
export const WHD_METADATA_KEY = "whd_webhook";

/** What the account should have for one configured webhook. */
export interface DesiredEndpoint {
  /** Webhook name (key under `webhooks:`). */
  webhook: string;
  url: string;
  /** Stripe-valid `enabled_events`, sorted (see `toEnabledEvents`). */
  enabledEvents: string[];
  description: string;
  /** Env var the signing secret goes into. */
  secretEnv: string;
  /** Value of the `whd_webhook` metadata. */
  tag: string;
}

/** One step of a plan. */
export type SyncAction =
  | { kind: "create"; desired: DesiredEndpoint }
  | {
    kind: "update";
    desired: DesiredEndpoint;
    id: string;
    url?: { from: string; to: string };
    enabledEvents?: { from: string[]; to: string[] };
  }
  | { kind: "in_sync"; desired: DesiredEndpoint; id: string }
  | { kind: "extra"; id: string; url: string; enabledEvents: string[]; delete: boolean };

/** A sync plan for one provider. */
export interface SyncPlan {
  provider: string;
  actions: SyncAction[];
  /** Things sync cannot fix (pinned api_version differs, endpoint disabled). */
  warnings: string[];
}

/**
 * Env var a webhook's signing secret is written to: `signing_secret_env` (the first of a list),
 * else derived.
 */
function _secretEnvName(webhook: WebhookConfig): string {
  return secretEnvNames(webhook)[0] ??
    `${webhook.provider}_${webhook.name}_SIGNING_SECRET`.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
}

/** The public url of a webhook: `server.public_url` joined with its path. */
function _webhookUrl(config: Config, webhook: WebhookConfig): string {
  const base = config.server.public_url;
  if (!base) {
    throw new UserError(
      "set server.public_url in the config (the URL Stripe reaches whd at, e.g. https://hooks.example.com), or pass --url",
    );
  }
  return base.replace(/\/+$/, "") + webhook.path;
}

/**
 * What the account should hold for `provider`'s webhooks (or only `only`, with its url
 * replaced by `url` when given). Throws a UserError for an `events` entry Stripe cannot take.
 */
export function desiredEndpoints(
  config: Config,
  provider: ProviderConfig,
  options: { only?: WebhookConfig; url?: string } = {},
): DesiredEndpoint[] {
  const webhooks = options.only ? [options.only] : provider.webhooks;
  return webhooks.map((w) => ({
    webhook: w.name,
    url: options.url ?? _webhookUrl(config, w),
    enabledEvents: toEnabledEvents(
      w.events,
      `providers.${provider.name}.webhooks.${w.name}.events`,
    ),
    description: w.description ?? `whd ${provider.name}/${w.name}`,
    secretEnv: _secretEnvName(w),
    tag: `${provider.name}/${w.name}`,
  }));
}

function _sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

/** Compares `desired` with the account's `existing` endpoints. Pure: nothing is changed. */
export function planSync(
  provider: ProviderConfig,
  desired: readonly DesiredEndpoint[],
  existing: readonly StripeEndpoint[],
  options: { prune?: boolean } = {},
): SyncPlan {
  const unused = [...existing];
  const take = (match: (e: StripeEndpoint) => boolean) => {
    const i = unused.findIndex(match);
    return i < 0 ? undefined : unused.splice(i, 1)[0];
  };
  const actions: SyncAction[] = [];
  const warnings: string[] = [];
  for (const d of desired) {
    const found = take((e) => e.metadata?.[WHD_METADATA_KEY] === d.tag) ??
      take((e) => e.url === d.url);
    if (!found) {
      actions.push({ kind: "create", desired: d });
      continue;
    }
    const urlDrift = found.url !== d.url;
    const eventsDrift = !_sameSet(found.enabled_events, d.enabledEvents);
    if (urlDrift || eventsDrift) {
      actions.push({
        kind: "update",
        desired: d,
        id: found.id,
        ...(urlDrift ? { url: { from: found.url, to: d.url } } : {}),
        ...(eventsDrift
          ? { enabledEvents: { from: [...found.enabled_events].sort(), to: d.enabledEvents } }
          : {}),
      });
    } else {
      actions.push({ kind: "in_sync", desired: d, id: found.id });
    }
    if (provider.api_version && found.api_version && found.api_version !== provider.api_version) {
      warnings.push(
        `${found.id} (${d.webhook}) renders events with API version ${found.api_version}, config pins ${provider.api_version}; ` +
          `Stripe cannot change it: delete the endpoint and sync again (it gets a new signing secret)`,
      );
    }
    if (found.status === "disabled") {
      warnings.push(
        `${found.id} (${d.webhook}) is disabled: enable it with \`whd endpoints update ${found.id} --enable\``,
      );
    }
  }
  for (const e of unused) {
    actions.push({
      kind: "extra",
      id: e.id,
      url: e.url,
      enabledEvents: [...e.enabled_events],
      delete: !!options.prune,
    });
  }
  return { provider: provider.name, actions, warnings };
}

/** True when applying the plan would change the account. */
export function planChanges(plan: SyncPlan): boolean {
  return plan.actions.some((a) =>
    a.kind === "create" || a.kind === "update" || (a.kind === "extra" && a.delete)
  );
}

/**
 * Event types for a one-line summary: the first `max`, then `… (N)` when there are more.
 *
 * @example
 * ```ts
 * eventList(["a", "b", "c"], 2); // "a, b … (3)"
 * ```
 */
export function eventList(events: readonly string[], max = 6): string {
  return events.length <= max
    ? events.join(", ")
    : `${events.slice(0, max).join(", ")} … (${events.length})`;
}

/** The plan as lines for people. */
export function formatPlan(plan: SyncPlan): string[] {
  const lines: string[] = [];
  for (const a of plan.actions) {
    if (a.kind === "create") {
      lines.push(
        `+ create  ${a.desired.webhook}: ${a.desired.url} [${eventList(a.desired.enabledEvents)}]`,
      );
    } else if (a.kind === "update") {
      lines.push(`~ update  ${a.desired.webhook}: ${a.id}`);
      if (a.url) lines.push(`    url: ${a.url.from} → ${a.url.to}`);
      if (a.enabledEvents) {
        const from = new Set(a.enabledEvents.from), to = new Set(a.enabledEvents.to);
        const added = a.enabledEvents.to.filter((e) => !from.has(e));
        const removed = a.enabledEvents.from.filter((e) => !to.has(e));
        if (added.length) lines.push(`    events +: ${eventList(added)}`);
        if (removed.length) lines.push(`    events -: ${eventList(removed)}`);
      }
    } else if (a.kind === "in_sync") {
      lines.push(`= in sync ${a.desired.webhook}: ${a.id} ${a.desired.url}`);
    } else {
      lines.push(
        a.delete
          ? `- delete  ${a.id} ${a.url} (not in config)`
          : `? extra   ${a.id} ${a.url} (not in config; --prune deletes it)`,
      );
    }
  }
  for (const w of plan.warnings) lines.push(`! ${w}`);
  return lines;
}

/**
 * Creates the endpoint `desired` describes, tagged with whd's metadata and pinned to the
 * provider's `api_version`, and returns it with the signing secret Stripe returns only now.
 */
export async function createDesired(
  api: EndpointApi,
  provider: ProviderConfig,
  desired: DesiredEndpoint,
): Promise<{ endpoint: StripeEndpoint; secret: string }> {
  const endpoint = await api.create({
    url: desired.url,
    enabledEvents: desired.enabledEvents,
    description: desired.description,
    apiVersion: provider.api_version,
    metadata: { [WHD_METADATA_KEY]: desired.tag },
  });
  if (!endpoint.secret) {
    throw new UserError(`Stripe created ${endpoint.id} but returned no signing secret`);
  }
  return { endpoint, secret: endpoint.secret };
}

/** Options for {@linkcode applySync}. */
export interface ApplyOptions {
  api: EndpointApi;
  provider: ProviderConfig;
  /**
   * Receives each new endpoint's signing secret, which Stripe returns only once; called right
   * after the endpoint is created, before the next step.
   */
  onSecret: (desired: DesiredEndpoint, secret: string, endpoint: StripeEndpoint) => Promise<void>;
}

/** What applying did. */
export interface ApplyResult {
  created: { webhook: string; id: string; url: string; secretEnv: string }[];
  updated: { webhook: string; id: string }[];
  deleted: string[];
}

/** Applies a plan, in order; stops at the first error (a UserError) after what was done. */
export async function applySync(plan: SyncPlan, options: ApplyOptions): Promise<ApplyResult> {
  const { api, provider } = options;
  const result: ApplyResult = { created: [], updated: [], deleted: [] };
  for (const a of plan.actions) {
    if (a.kind === "create") {
      const { endpoint, secret } = await createDesired(api, provider, a.desired);
      await options.onSecret(a.desired, secret, endpoint);
      result.created.push({
        webhook: a.desired.webhook,
        id: endpoint.id,
        url: endpoint.url,
        secretEnv: a.desired.secretEnv,
      });
    } else if (a.kind === "update") {
      await api.update(a.id, {
        url: a.url?.to,
        enabledEvents: a.enabledEvents?.to,
        metadata: { [WHD_METADATA_KEY]: a.desired.tag },
      });
      result.updated.push({ webhook: a.desired.webhook, id: a.id });
    } else if (a.kind === "extra" && a.delete) {
      await api.delete(a.id);
      result.deleted.push(a.id);
    }
  }
  return result;
}
