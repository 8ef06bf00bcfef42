/** Example: logs what a Stripe `invoice.paid` event carried. */
import type { Handler } from "@whd/whd/handler";

const handler: Handler = (event, ctx) => {
  const object = (event.payload as { data?: { object?: Record<string, unknown> } }).data?.object ??
    {};
  ctx.log.info("invoice paid", {
    event_id: event.id,
    type: event.type,
    attempt: ctx.attempt,
    invoice: object.id,
    customer: object.customer,
    amount_paid: object.amount_paid,
  });
};

export default handler;
