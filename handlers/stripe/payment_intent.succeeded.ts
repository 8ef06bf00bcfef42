/** Example: logs what a Stripe `payment_intent.succeeded` event carried. */
import type { Handler } from "@whd/whd/handler";

const handler: Handler = (event, ctx) => {
  const object = (event.payload as { data?: { object?: Record<string, unknown> } }).data?.object ??
    {};
  ctx.log.info("payment received", {
    event_id: event.id,
    type: event.type,
    attempt: ctx.attempt,
    payment_intent: object.id,
    amount: object.amount,
    currency: object.currency,
  });
};

export default handler;
