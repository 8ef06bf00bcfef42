/**
 * Example: logs what a Stripe `invoice.paid` event carried. `Handler<"invoice.paid">` types
 * `event.payload` as the `stripe` SDK's `InvoicePaidEvent` (`data.object` is a `Stripe.Invoice`).
 */
import type { Handler } from "@whd/whd/handler";

const handler: Handler<"invoice.paid"> = (event, ctx) => {
  const invoice = event.payload.data?.object;
  ctx.log.info("invoice paid", {
    event_id: event.id,
    type: event.type,
    attempt: ctx.attempt,
    invoice: invoice?.id,
    customer: typeof invoice?.customer === "string" ? invoice.customer : invoice?.customer?.id,
    amount_paid: invoice?.amount_paid,
  });
};

export default handler;
