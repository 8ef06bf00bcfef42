import assert from "node:assert/strict";
import { PROVIDER_TYPES } from "../../src/config/schema.ts";
import { PROVIDERS } from "../../src/providers/mod.ts";

Deno.test("PROVIDERS has one kind per provider type, keyed by its own type", () => {
  assert.deepEqual(Object.keys(PROVIDERS).sort(), [...PROVIDER_TYPES].sort());
  for (const type of PROVIDER_TYPES) assert.equal(PROVIDERS[type].type, type);
});
