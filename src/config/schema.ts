/**
 * The shape of `whd.yaml`: every key a user may write, its default and its bounds.
 *
 * Objects are strict, so an unknown key is an error that names it. The parsed config keeps
 * the file's snake_case keys so that an error path reads exactly like the YAML the user wrote.
 *
 * @module
 */
import { z } from "zod";

/** Provider types whd knows how to verify. */
export const PROVIDER_TYPES = ["stripe", "github", "slack", "standard", "hmac"] as const;
/** One of {@linkcode PROVIDER_TYPES}. */
export type ProviderType = typeof PROVIDER_TYPES[number];

const positiveInt = z.number().int().positive();

/** Default of `admin.listen`: loopback only, so no token is needed. */
export const ADMIN_LISTEN_DEFAULT = "127.0.0.1:9090";

/** Provider and webhook names: the keys under `providers:` and `webhooks:`. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;
const name = z.string().regex(NAME_PATTERN, "use letters, digits, _ or -");
/** Keys ending in `_env` name an environment variable, never hold its value. */
const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an env var name");

/** `rate_limit:` — a token bucket per webhook (or per provider, as the webhooks' default). */
export const RateLimitSchema = z.strictObject({
  requests_per_minute: z.number().positive(),
  /** Bucket size: how many requests may arrive at once. Default: `requests_per_minute`. */
  burst_limit: positiveInt.optional(),
  /** One bucket per client address instead of one per route. */
  per_ip: z.boolean().default(false),
});
/** A validated `rate_limit:` block. */
export type RateLimitConfig = z.infer<typeof RateLimitSchema>;

/** `ip_allowlist:` entries: addresses, CIDRs, or preset names (`stripe`, `github`). */
export const IpAllowlistSchema = z.array(z.string().min(1));

/** One webhook route of a provider. Type-specific keys are checked by the loader. */
export const WebhookSchema = z.strictObject({
  path: z.string().regex(/^\/[^\s?#]*$/, "must start with / and contain no spaces, ? or #"),
  /**
   * Env var holding the secret (several may be listed in it comma-separated, for rotation), or a
   * list of env vars each holding exactly one secret (any character allowed, commas included).
   */
  signing_secret_env: z.union([envVarName, z.array(envVarName).min(1)]).optional(),
  tolerance_seconds: positiveInt.default(300),
  /** Event types to process; others are acknowledged and recorded as `ignored`. */
  events: z.array(z.string().min(1)).min(1).optional(),
  verify_signature: z.boolean().default(true),
  allow_unverified: z.boolean().default(false),
  /** `sync` runs the handler before answering (500 on failure); default `async`. */
  mode: z.enum(["async", "sync"]).default("async"),
  /**
   * JSON pointer to the object an event is about (e.g. `/data/object/id`): events with the
   * same value run one at a time, oldest first (`inbox/ordering.ts`).
   */
  order_key: z.string().regex(/^\//, "must be a JSON pointer such as /data/object/id")
    .optional(),
  description: z.string().optional(),
  ip_allowlist: IpAllowlistSchema.optional(),
  rate_limit: RateLimitSchema.optional(),
  // type: hmac only
  signature_header: z.string().min(1).optional(),
  algorithm: z.enum(["sha1", "sha256", "sha512"]).optional(),
  encoding: z.enum(["hex", "base64"]).optional(),
  signature_prefix: z.string().optional(),
  id_header: z.string().min(1).optional(),
  id_path: z.string().regex(/^\//, "must be a JSON pointer such as /id").optional(),
  type_header: z.string().min(1).optional(),
  type_path: z.string().regex(/^\//, "must be a JSON pointer such as /type").optional(),
  // type: stripe only
  /** Accept only live-mode (true) or only test-mode (false) events; unset accepts both. */
  livemode: z.boolean().optional(),
});
/** A validated webhook, before the loader adds its name. */
export type WebhookInput = z.infer<typeof WebhookSchema>;

/** A duration such as `90s`, `15m`, `1h`, `1d` (also `500ms`). */
export const DURATION_PATTERN = /^[1-9][0-9]*(ms|s|m|h|d)$/;

/**
 * `reconcile:` (stripe): `whd serve` runs the backfill of the last `hours` every `every`, one
 * process at a time when several share the database.
 */
export const ReconcileSchema = z.strictObject({
  /** How often: a duration, at least 1s (`30m`, `1h`). */
  every: z.string().regex(DURATION_PATTERN, "must be a duration such as 30m, 1h or 1d")
    .default("1h"),
  /** How far back each run lists events, in hours (Stripe keeps 30 days). */
  hours: z.number().positive().max(720).default(24),
  /** The webhook the events are stored under (default: `default`, else the only one). */
  webhook: name.optional(),
});
/** A validated `reconcile:` block. */
export type ReconcileConfig = z.infer<typeof ReconcileSchema>;

/** One provider block under `providers:`. */
export const ProviderSchema = z.strictObject({
  /** Defaults to the provider's name when that name is a known type. */
  type: z.enum(PROVIDER_TYPES).optional(),
  webhooks: z.record(
    name,
    WebhookSchema,
  )
    .refine((w) => Object.keys(w).length > 0, "needs at least one webhook"),
  ip_allowlist: IpAllowlistSchema.optional(),
  rate_limit: RateLimitSchema.optional(),
  // API access (stripe)
  api_key_env: envVarName.optional(),
  api_base: z.url().optional(),
  api_version: z.string().optional(),
  reconcile: ReconcileSchema.optional(),
});

/** The whole file. */
export const ConfigSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().default("0.0.0.0"),
    port: z.number().int().min(0).max(65535).default(8080),
    max_body_bytes: positiveInt.default(1_048_576),
    /** A new connection's request headers must be complete within this (else closed). */
    header_timeout_ms: positiveInt.default(10_000),
    /** A request's body must be complete within this after its headers (else 408, closed). */
    body_timeout_ms: positiveInt.default(30_000),
    /** A kept-alive connection is closed when no next request is complete within this. */
    idle_timeout_ms: positiveInt.default(10_000),
    /** Open connections at most (also capped by the open-files limit); beyond: 503, closed. */
    max_connections: positiveInt.default(1_000),
    /** Request line and headers at most (431 over it). */
    max_header_bytes: positiveInt.min(1_024).max(65_536).default(16_384),
    /** CIDRs of reverse proxies whose X-Forwarded-For is believed. */
    trusted_proxies: z.array(z.string().min(1)).default([]),
    /** The URL the providers reach whd at, e.g. https://hooks.example.com (for `endpoints`). */
    public_url: z.url().optional(),
  }).prefault({}),
  database: z.strictObject({
    url: z.string().min(1).default("file:data/whd.db"),
    auth_token_env: envVarName
      .optional(),
    /** Longest wait for the database before a call fails (webhooks then get 503). */
    timeout_ms: positiveInt.default(2_000),
    /** How long a purged event's id still counts as a duplicate, from when it was received. */
    dedupe_retention_days: positiveInt.default(30),
  }).prefault({}),
  /**
   * `admin:` — the operator's listener (`/healthz`, `/readyz`, `/metrics`), apart from the
   * public port. `listen: off` turns it off.
   */
  admin: z.strictObject({
    /** `host:port` (`[::1]:9090` for IPv6), or `off`. Default `127.0.0.1:9090`. */
    listen: z.string().min(1).default(ADMIN_LISTEN_DEFAULT),
    /** Env var holding a bearer token every admin request must carry (needed off loopback). */
    token_env: envVarName.optional(),
  }).prefault({}),
  handlers: z.strictObject({
    dir: z.string().min(1).default("handlers"),
    max_attempts: positiveInt.default(10),
    timeout_ms: positiveInt.default(30_000),
    concurrency: positiveInt.max(256).default(4),
    /**
     * While deliveries arrive and the CPUs are busy, run one handler at a time so the
     * CPU goes to acknowledging deliveries; full concurrency again once the burst passes.
     */
    ingest_first: z.boolean().default(true),
    backoff_base_ms: positiveInt.default(1_000),
    backoff_max_ms: positiveInt.default(3_600_000),
    /** How long SIGTERM waits for running handlers before releasing their events. */
    shutdown_grace_ms: z.number().int().min(0).default(10_000),
    /** Re-read handler files when they change. */
    watch: z.boolean().default(true),
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    format: z.enum(["text", "json"]).default("text"),
  }).prefault({}),
  ip_allowlist: IpAllowlistSchema.optional(),
  providers: z.record(
    name,
    ProviderSchema,
  )
    .refine((p) => Object.keys(p).length > 0, "needs at least one provider"),
});
/** The file as validated by {@linkcode ConfigSchema}, before normalization. */
export type ConfigInput = z.infer<typeof ConfigSchema>;

/** A webhook as the rest of whd sees it: named, typed, with its effective guards. */
export interface WebhookConfig extends WebhookInput {
  /** Key under `webhooks:`. */
  name: string;
  /** Owning provider's name (key under `providers:`). */
  provider: string;
  /** Owning provider's type. */
  type: ProviderType;
  /** The most specific allowlist present (webhook, provider, top level), or undefined. */
  effective_ip_allowlist?: string[];
  /** Webhook's rate limit, else the provider's, else undefined. */
  effective_rate_limit?: RateLimitConfig;
}

/** A provider as the rest of whd sees it. */
export interface ProviderConfig {
  name: string;
  type: ProviderType;
  webhooks: WebhookConfig[];
  ip_allowlist?: string[];
  rate_limit?: RateLimitConfig;
  api_key_env?: string;
  api_base?: string;
  api_version?: string;
  reconcile?: ReconcileConfig;
}

/** The validated, normalized config. */
export interface Config {
  server: ConfigInput["server"];
  database: ConfigInput["database"];
  /** Absent in hand-built configs (tests): the defaults apply. */
  admin?: ConfigInput["admin"];
  handlers: ConfigInput["handlers"];
  log: ConfigInput["log"];
  ip_allowlist?: string[];
  providers: ProviderConfig[];
  /** Where it came from: a file path, or `embedded example`. */
  source: string;
}
