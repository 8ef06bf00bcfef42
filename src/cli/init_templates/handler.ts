/**
 * Runs for every __PROVIDER__ event that has no more specific handler file. Name a file after an
 * event type (`<type>.ts`) or a family (`customer.subscription.*.ts`) to handle it apart.
 *
 * Resolve to succeed; throw to fail, and whd retries with backoff. An event may run more than
 * once (after a crash, say): key side effects on event.id. Modules may import relative files and
 * `node:` built-ins only. whd's handlers/README.md documents the rest (ctx.env, ctx.stripe, …).
 */
export default async function handler(
  event: { id: string; provider: string; type: string; payload: unknown },
  ctx: {
    log: { info(message: string, fields?: Record<string, unknown>): void };
    attempt: number;
    signal: AbortSignal;
  },
): Promise<void> {
  ctx.log.info("received", { event_id: event.id, type: event.type, attempt: ctx.attempt });
  // Do the work here, passing ctx.signal along, e.g.:
  // await fetch("https://example.com/hook", { method: "POST", signal: ctx.signal,
  //   body: JSON.stringify(event.payload) });
  await Promise.resolve();
}
