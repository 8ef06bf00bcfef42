import assert from "node:assert/strict";
import { parseConfig } from "../src/config/loader.ts";
import { describeRoutes } from "../src/http/routes.ts";
import { RateLimiter } from "../src/http/rate_limit.ts";
import { ManualClock } from "../src/clock.ts";

const yaml = (limit: string) => `
providers:
  github:
    ip_allowlist: [github]
    rate_limit: ${limit}
    webhooks:
      default: { path: /gh, signing_secret_env: G }
`;

Deno.test("whd check shows the burst the limiter enforces, also when burst_limit is not set", () => {
  for (
    const [limit, expected] of [["{ requests_per_minute: 0.5 }", 1], [
      "{ requests_per_minute: 90 }",
      90,
    ]] as const
  ) {
    const [route] = describeRoutes(parseConfig(yaml(limit), "t.yaml"));
    const rpm = Number(/requests_per_minute: ([\d.]+)/.exec(limit)![1]);
    const limiter = new RateLimiter({ requestsPerMinute: rpm, clock: new ManualClock() });
    assert.equal(limiter.burst, expected);
    assert.equal(route.rate_limit, `${rpm}/min burst ${expected}`);
  }
});

Deno.test("whd check shows the effective allowlist, per-ip limits and the event filter", () => {
  const [route] = describeRoutes(
    parseConfig(yaml("{ requests_per_minute: 60, burst_limit: 5, per_ip: true }"), "t.yaml"),
  );
  assert.equal(route.ip_allowlist, "github");
  assert.equal(route.rate_limit, "60/min burst 5 per ip");
  assert.equal(route.events, "*");
  assert.equal(route.verification, "github (G)");
});
