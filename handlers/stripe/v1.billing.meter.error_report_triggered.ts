/**
 * Example: a Stripe thin event (an event notification of Stripe's v2 APIs). The delivery
 * carries only the event's id, type and `related_object`; this handler fetches the full event
 * (`GET /v2/core/events/{id}`) and the meter it is about through `ctx.stripe`, so the stripe
 * provider needs `api_key_env` in whd.yaml. whd already checked the signature: parse without
 * verifying again.
 */
import type { Handler } from "@whd/whd/handler";

const handler: Handler = async (event, ctx) => {
  if (!ctx.stripe) {
    throw new Error("ctx.stripe is not set: add api_key_env to the stripe provider in whd.yaml");
  }
  const notification = ctx.stripe.parseEventNotificationWithoutVerification(
    JSON.stringify(event.payload),
  );
  if (notification.type !== "v1.billing.meter.error_report_triggered") return;
  const full = await notification.fetchEvent(); // the event with its data
  const meter = await notification.fetchRelatedObject(); // the Stripe.Billing.Meter
  ctx.log.warn("meter error report", {
    event_id: event.id,
    type: event.type,
    meter: meter.id,
    meter_name: meter.display_name,
    errors: full.data.reason.error_count,
    summary: full.data.developer_message_summary,
  });
};

export default handler;
