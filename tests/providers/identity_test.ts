import assert from "node:assert/strict";
import { checkIdentity, MAX_ID_BYTES } from "../../src/providers/_shared.ts";

const utf8Bytes = (text: string) => new TextEncoder().encode(text).length;

Deno.test("checkIdentity: an id is stored when its UTF-8 fits in 255 bytes, whatever its characters", () => {
  const fits = [
    "evt_1",
    "a".repeat(MAX_ID_BYTES),
    "€".repeat(85), // 3 bytes each: 255
    "é".repeat(127), // 2 bytes each: 254
    "😀".repeat(63), // a surrogate pair each, 4 bytes: 252
  ];
  for (const id of fits) {
    assert.ok(utf8Bytes(id) <= MAX_ID_BYTES);
    assert.equal(checkIdentity(id, "invoice.paid"), undefined, `${id.length} characters`);
  }
});

Deno.test("checkIdentity: an id or type over 255 bytes of UTF-8 is refused with its size", () => {
  const tooLong = [
    ["a".repeat(MAX_ID_BYTES + 1), "is longer than 255 bytes (256 characters)"],
    ["€".repeat(86), "is 258 bytes long (UTF-8)"],
    ["é".repeat(128), "is 256 bytes long (UTF-8)"],
    ["😀".repeat(64), "is 256 bytes long (UTF-8)"],
  ];
  for (const [value, says] of tooLong) {
    const asId = checkIdentity(value, "invoice.paid");
    assert.equal(asId?.code, "invalid_id");
    assert.match(asId!.message, new RegExp(`^event id ${says.replace(/[()]/g, "\\$&")}`));
    assert.equal(checkIdentity("evt_1", value)?.code, "invalid_type");
  }
});
