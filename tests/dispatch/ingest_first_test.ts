import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import {
  createIngestFirst,
  type IngestFirstOptions,
  systemCpuSampler,
} from "../../src/dispatch/ingest_first.ts";

/** A gate whose CPU reading the test sets. */
function gate(onChange?: IngestFirstOptions["onChange"]) {
  const clock = new ManualClock();
  let busy: number | undefined = 0.2;
  const first = createIngestFirst({ clock, sampleCpu: () => busy, onChange });
  const deliveryAt = (share: number) => {
    busy = share;
    first.accepted();
    clock.advance(300);
  };
  return {
    clock,
    gate: first,
    cpu(share: number | undefined) {
      busy = share;
    },
    /** A delivery arrives with the CPUs `share` busy, then a sample interval passes. */
    deliveryAt,
    /** A delivery, then the poller asks for its slots out of 4 (as it does after every run). */
    step(share: number): number {
      deliveryAt(share);
      return first.slots(4);
    },
  };
}

Deno.test("ingest first: busy CPUs alone change nothing while no delivery arrives", () => {
  const { clock, gate: g, cpu } = gate();
  cpu(1);
  clock.advance(300);
  assert.equal(g.slots(4), 4);
  assert.equal(g.limiting, false);
});

Deno.test("ingest first: deliveries alone change nothing while the CPUs have room", () => {
  const { clock, gate: g, cpu } = gate();
  cpu(0.5);
  for (let i = 0; i < 10; i++) {
    g.accepted();
    clock.advance(100);
  }
  assert.equal(g.slots(4), 4);
});

Deno.test("ingest first: deliveries on saturated CPUs limit runs to one until the burst passes", () => {
  const { clock, gate: g, deliveryAt } = gate();
  deliveryAt(0.95);
  assert.equal(g.slots(4), 1, "limited");
  // Still arriving, the CPUs busy but below the entry level: it stays limited (no flapping).
  deliveryAt(0.65);
  assert.equal(g.slots(4), 1);
  // No delivery for a second: the burst is over, full concurrency at once.
  clock.advance(1000);
  assert.equal(g.slots(4), 4);
  assert.equal(g.limiting, false);
});

Deno.test("ingest first: 80% busy is busy enough (acknowledging alone leaves a core partly idle)", () => {
  const { gate: g, deliveryAt } = gate();
  deliveryAt(0.7);
  assert.equal(g.slots(4), 4, "70%: handlers keep their concurrency");
  deliveryAt(0.8);
  assert.equal(g.slots(4), 1, "80% with deliveries arriving: limited");
});

Deno.test("ingest first: the limit lifts when the CPUs stay calm for a second even while deliveries arrive", () => {
  const { gate: g, deliveryAt } = gate();
  deliveryAt(0.99);
  assert.equal(g.slots(8), 1);
  deliveryAt(0.3);
  deliveryAt(0.3);
  deliveryAt(0.3);
  assert.equal(g.slots(8), 1, "calm for 0.9 s: still limited");
  deliveryAt(0.3);
  assert.equal(g.slots(8), 8, "calm for 1.2 s: full concurrency");
});

Deno.test("ingest first: a calm moment inside a burst does not lift the limit (a stall, not the end)", () => {
  const { step } = gate();
  assert.equal(step(0.9), 1);
  for (let i = 0; i < 10; i++) {
    step(0.3); // a stall on the disk or the machine's other tenants
    step(0.3);
    assert.equal(step(0.3), 1, "calm for 0.9 s");
    // Busy again, though below the entry level: the calm run starts over.
    assert.equal(step(0.7), 1, `still limited after ${i + 1} stalls`);
  }
});

Deno.test("ingest first: each change is reported with why and the CPU share behind it", () => {
  const changes: unknown[] = [];
  const { clock, gate: g, step } = gate((limiting, why) => changes.push({ limiting, ...why }));
  step(0.9);
  for (let i = 0; i < 5; i++) step(0.2);
  step(0.95);
  clock.advance(1000);
  g.slots(4);
  assert.deepEqual(changes, [
    { limiting: true, reason: "busy", busy: 0.9 },
    { limiting: false, reason: "calm", busy: 0.2 },
    { limiting: true, reason: "busy", busy: 0.95 },
    { limiting: false, reason: "quiet" },
  ]);
});

Deno.test("ingest first: the CPU is read at most once per sample interval; unknown readings keep the state", () => {
  const clock = new ManualClock();
  let reads = 0;
  let busy: number | undefined = 0.95;
  const g = createIngestFirst({
    clock,
    sampleCpu: () => {
      reads++;
      return busy;
    },
  });
  g.accepted();
  for (let i = 0; i < 100; i++) g.slots(4);
  assert.equal(reads, 0, "no reading before the first interval ends");
  clock.advance(250);
  for (let i = 0; i < 100; i++) assert.equal(g.slots(4), 1);
  assert.equal(reads, 1);
  busy = undefined;
  g.accepted();
  clock.advance(250);
  assert.equal(g.slots(4), 1, "an unknown reading keeps the limit");
});

Deno.test("ingest first: while limiting a run is followed by a rest 29x as long (at most 1 s); none otherwise", () => {
  const { clock, gate: g, deliveryAt } = gate();
  assert.equal(g.rest(20), 0, "not limiting: no rest");
  deliveryAt(0.95);
  assert.equal(g.rest(20), 580);
  assert.equal(g.rest(5_000), 1_000, "capped");
  clock.advance(1_000); // the burst is over
  assert.equal(g.rest(20), 0);
});

Deno.test("ingest first: a concurrency of one stays one", () => {
  const { gate: g, deliveryAt } = gate();
  deliveryAt(1);
  assert.equal(g.slots(1), 1);
});

Deno.test("systemCpuSampler: busy share between two readings of the CPU times", () => {
  const readings = [{ busy: 100, total: 1000 }, { busy: 190, total: 1100 }, {
    busy: 190,
    total: 1200,
  }];
  const sample = systemCpuSampler(() => readings.shift());
  assert.equal(sample(), 0.9);
  assert.equal(sample(), 0);
  assert.equal(sample(), undefined, "no more readings: unknown");
});

Deno.test("systemCpuSampler: the machine's own CPU times give a share between 0 and 1", () => {
  const sample = systemCpuSampler();
  const end = Date.now() + 30;
  while (Date.now() < end) { /* let time pass on the CPUs */ }
  const share = sample();
  if (share !== undefined) assert.ok(share >= 0 && share <= 1, `share ${share}`);
});
