/** Example: logs what a Stripe `checkout.session.completed` event carried. */
import type { Handler } from "@whd/whd/handler";

const handler: Handler = (event, ctx) => {
  const object = (event.payload as { data?: { object?: Record<string, unknown> } }).data?.object ??
    {};
  ctx.log.info("checkout completed", {
    event_id: event.id,
    type: event.type,
    attempt: ctx.attempt,
    session: object.id,
    customer: object.customer,
    amount_total: object.amount_total,
  });
};

export default handler;
