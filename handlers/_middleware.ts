/**
 * Example middleware for every provider: times each module handler run and logs the outcome.
 * It runs outermost; `handlers/<provider>/_middleware.ts` files run inside it.
 */
import type { Middleware } from "@whd/whd/handler";

const timing: Middleware = async (event, ctx, next) => {
  const started = performance.now();
  try {
    return await next();
  } finally {
    ctx.log.debug("handler finished", {
      event_id: event.id,
      ms: Math.round(performance.now() - started),
    });
  }
};

export default timing;
