/**
 * Example middleware for Stripe handlers: with `WHD_SKIP_STRIPE_TEST_EVENTS=1` in the
 * environment, test-mode events (`livemode: false`) are marked done without running their
 * handler — not calling `next()` skips it.
 */
import type { Middleware } from "@whd/whd/handler";

const skipTestMode: Middleware = (event, ctx, next) => {
  const livemode = (event.payload as { livemode?: boolean }).livemode;
  if (livemode === false && ctx.env.WHD_SKIP_STRIPE_TEST_EVENTS === "1") {
    ctx.log.info("test-mode event skipped", { event_id: event.id });
    return;
  }
  return next();
};

export default skipTestMode;
