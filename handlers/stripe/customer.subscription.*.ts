/** Example: logs what a Stripe `customer.subscription.*` event carried. */
import type { Handler } from "@whd/whd/handler";

const handler: Handler = (event, ctx) => {
  const object = (event.payload as { data?: { object?: Record<string, unknown> } }).data?.object ??
    {};
  ctx.log.info("subscription changed", {
    event_id: event.id,
    type: event.type,
    attempt: ctx.attempt,
    subscription: object.id,
    customer: object.customer,
    status: object.status,
  });
};

export default handler;
