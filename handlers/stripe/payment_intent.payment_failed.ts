/** Example: logs what a Stripe `payment_intent.payment_failed` event carried. */
import type { Handler } from "@whd/whd/handler";

const handler: Handler = (event, ctx) => {
  const object = (event.payload as { data?: { object?: Record<string, unknown> } }).data?.object ??
    {};
  ctx.log.info("payment failed", {
    event_id: event.id,
    type: event.type,
    attempt: ctx.attempt,
    payment_intent: object.id,
    amount: object.amount,
    reason: (object.last_payment_error as { message?: string } | undefined)?.message,
  });
};

export default handler;
