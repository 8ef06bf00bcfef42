/**
 * Example: an npm package in a handler. A pinned `npm:` specifier is all it takes (no manifest
 * in handlers/): under `deno run` whd fetches `ms` into Deno's npm cache when the handler
 * loads; for the compiled binary, or a host without the registry, run `whd handlers vendor` at
 * deploy time (handlers/README.md, "npm packages"). This file beats the
 * `customer.subscription.*` pattern for `customer.subscription.trial_will_end` (Stripe sends it
 * three days before a trial ends).
 */
// A pinned npm: specifier is the point here (no manifest in handlers/), whatever deno lint prefers.
// deno-lint-ignore no-import-prefix
import ms from "npm:ms@2.1.3";
import type { Handler } from "@whd/whd/handler";

const handler: Handler<"customer.subscription.trial_will_end"> = (event, ctx) => {
  const subscription = event.payload.data.object;
  const left = ((subscription.trial_end ?? NaN) - event.payload.created) * 1000;
  ctx.log.info("trial ends soon", {
    event_id: event.id,
    type: event.type,
    subscription: subscription.id,
    customer: typeof subscription.customer === "string"
      ? subscription.customer
      : subscription.customer.id,
    ends_in: Number.isFinite(left) ? ms(Math.max(0, left), { long: true }) : "unknown", // "3 days"
  });
};

export default handler;
