/**
 * Bounded values for an event-type metric label: a sender choosing types cannot grow the set of
 * series without end.
 *
 * @module
 */

/**
 * Bounds the values of an event-type label: types named in the config's `events:` filters
 * keep their name, others keep theirs until `cap` distinct ones per provider were seen, and
 * every later one becomes `other`. The set of series thus stays bounded whatever senders send.
 *
 * @example
 * ```ts
 * import { TypeLabels } from "./type_labels.ts";
 * const types = new TypeLabels([["stripe", ["invoice.paid"]]], 1);
 * types.label("stripe", "invoice.paid"); // "invoice.paid"
 * types.label("stripe", "a.b"); // "a.b" (first unknown type, within the cap)
 * types.label("stripe", "c.d"); // "other"
 * ```
 */
export class TypeLabels {
  #named = new Map<string, Set<string>>();
  #seen = new Map<string, Set<string>>();
  #cap: number;

  /**
   * The types named in a config's `events:` filters, per provider.
   *
   * @example
   * ```ts ignore
   * const metrics = new Metrics({ types: TypeLabels.fromConfig(config) });
   * ```
   */
  static fromConfig(
    config: { providers: { name: string; webhooks: { events?: string[] }[] }[] },
    cap?: number,
  ): TypeLabels {
    return new TypeLabels(
      config.providers.map((p) => [p.name, p.webhooks.flatMap((w) => w.events ?? [])]),
      cap,
    );
  }

  /** `named`: per provider, the types its webhooks' `events:` list (wildcards are skipped). */
  constructor(named: Iterable<[string, Iterable<string>]>, cap = 32) {
    for (const [provider, types] of named) {
      const set = this.#named.get(provider) ?? new Set<string>();
      for (const t of types) if (!t.includes("*")) set.add(t);
      this.#named.set(provider, set);
    }
    this.#cap = cap;
  }

  /** The label value for `type` of `provider`. */
  label(provider: string, type: string): string {
    if (this.#named.get(provider)?.has(type)) return type;
    let seen = this.#seen.get(provider);
    if (!seen) this.#seen.set(provider, seen = new Set());
    if (seen.has(type)) return type;
    if (seen.size >= this.#cap) return "other";
    seen.add(type);
    return type;
  }
}
