import assert from "node:assert/strict";
import {
  killQuietly,
  pumpLines,
  type PumpLinesOptions,
  settledWithin,
} from "../../src/dispatch/child_io.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

async function lines(
  stream: ReadableStream<Uint8Array>,
  options?: PumpLinesOptions,
): Promise<string[]> {
  const seen: string[] = [];
  await pumpLines(stream, (line) => seen.push(line), options);
  return seen;
}

Deno.test("pumpLines: lines split across chunks (a UTF-8 character too) come out whole, the tail last", async () => {
  const euro = bytes("€");
  const chunks = [bytes("a\nb"), euro.subarray(0, 1), euro.subarray(1), bytes("c\n\nd")];
  assert.deepEqual(await lines(ReadableStream.from(chunks)), ["a", "b€c", "", "d"]);
});

Deno.test("pumpLines: a partial line over maxLine is passed on early unless keepLong holds it", async () => {
  const chunks = () => ReadableStream.from([bytes("xxxxxx"), bytes("yy\n")]);
  assert.deepEqual(await lines(chunks(), { maxLine: 4 }), ["xxxxxx", "yy"]);
  const kept = await lines(chunks(), { maxLine: 4, keepLong: (p) => p.startsWith("x") });
  assert.deepEqual(kept, ["xxxxxxyy"]);
});

Deno.test("pumpLines: a stream that breaks ends the lines quietly after what was read", async () => {
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(bytes("one\ntw"));
      controller.error(new Error("pipe closed"));
    },
  });
  assert.deepEqual(await lines(stream), ["one", "tw"]);
});

Deno.test("pumpLines: an error thrown by onLine rejects", async () => {
  const stream = ReadableStream.from([bytes("{not json\n")]);
  await assert.rejects(pumpLines(stream, (line) => JSON.parse(line)), SyntaxError);
});

Deno.test("settledWithin: the value when it settles in time, undefined when it does not", async () => {
  assert.equal(await settledWithin(Promise.resolve(7), 1000), 7);
  let never!: () => void;
  const pending = new Promise<void>((r) => never = r);
  assert.equal(await settledWithin(pending, 10), undefined);
  never();
});

Deno.test("killQuietly: killing a child that has already exited does not throw", async () => {
  const child = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
  await child.status;
  assert.throws(() => child.kill("SIGKILL"), "the raw kill does throw");
  killQuietly(child, "SIGKILL");
});
