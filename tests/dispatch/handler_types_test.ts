/**
 * `Handler<T>`, imported from the public handler entry `@whd/whd/handler` as a handler file
 * does, narrows `event.payload` with the providers' own SDK types: the `stripe` SDK's events
 * (patterns too) and `@octokit/webhooks-types`. These are type checks (`deno test` type-checks
 * this file: a wrong narrowing fails it); each handler also runs on a payload built with the
 * SDK's types.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import type { PullRequestOpenedEvent, PushEvent } from "@octokit/webhooks-types";
import type { Handler, HandlerContext, TypedEvent } from "@whd/whd/handler";

const ctx = {} as HandlerContext;
const base = { id: "e", provider: "p", webhook: "w", received_at: "", source: "delivery" } as const;

Deno.test("Handler<stripe type> gives the SDK's event; a pattern gives the union it matches", async () => {
  const paid: Handler<"invoice.paid"> = (event) => {
    const invoice: Stripe.Invoice = event.payload.data.object;
    // @ts-expect-error an invoice has no `captured` (that is a Charge)
    invoice.captured;
    const type: "invoice.paid" = event.payload.type;
    return Response.json({ paid: invoice.amount_paid, type });
  };
  const subscription: Handler<"customer.subscription.*"> = (event) => {
    const sub: Stripe.Subscription = event.payload.data.object;
    return Response.json({ status: sub.status, type: event.payload.type });
  };
  const invoice = { id: "in_1", amount_paid: 1900 } as Stripe.Invoice;
  const event = {
    ...base,
    type: "invoice.paid" as const,
    payload: { type: "invoice.paid", data: { object: invoice } } as Stripe.InvoicePaidEvent,
  };
  assert.deepEqual(await (await paid(event, ctx) as Response).json(), {
    paid: 1900,
    type: "invoice.paid",
  });
  const updated: TypedEvent<"customer.subscription.*"> = {
    ...base,
    type: "customer.subscription.updated",
    payload: {
      type: "customer.subscription.updated",
      data: { object: { status: "active" } as Stripe.Subscription },
    } as Stripe.CustomerSubscriptionUpdatedEvent,
  };
  assert.deepEqual(await (await subscription(updated, ctx) as Response).json(), {
    status: "active",
    type: "customer.subscription.updated",
  });
});

Deno.test("Handler<github event or event.action> gives the octokit payload; plain Handler keeps unknown", async () => {
  const opened: Handler<"pull_request.opened"> = (event) => {
    const action: "opened" = event.payload.action;
    return Response.json({ action, number: event.payload.pull_request.number });
  };
  const push: Handler<"push"> = (event) => Response.json({ commits: event.payload.commits.length });
  const plain: Handler = (event) => {
    // @ts-expect-error without a type parameter the payload is unknown
    event.payload.data;
  };
  const pr = { action: "opened", pull_request: { number: 7 } } as PullRequestOpenedEvent;
  assert.deepEqual(
    await (await opened({ ...base, type: "pull_request.opened", payload: pr }, ctx) as Response)
      .json(),
    { action: "opened", number: 7 },
  );
  const commits = { commits: [{}, {}] } as PushEvent;
  assert.deepEqual(
    await (await push({ ...base, type: "push", payload: commits }, ctx) as Response).json(),
    { commits: 2 },
  );
  assert.equal(await plain({ ...base, type: "x", payload: { data: 1 } }, ctx), undefined);
});
