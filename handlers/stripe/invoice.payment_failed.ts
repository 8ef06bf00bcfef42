/** Example: logs what a Stripe `invoice.payment_failed` event carried. */
import type { Handler } from "@whd/whd/handler";

const handler: Handler = (event, ctx) => {
  const object = (event.payload as { data?: { object?: Record<string, unknown> } }).data?.object ??
    {};
  ctx.log.info("invoice payment failed", {
    event_id: event.id,
    type: event.type,
    attempt: ctx.attempt,
    invoice: object.id,
    customer: object.customer,
    attempt_count: object.attempt_count,
  });
};

export default handler;
