/**
 * `whd events list|show|retry|replay|purge`: read and steer the inbox.
 *
 * The JSON forms are a stable contract: `list --json` prints an array of objects with `id`,
 * `provider`, `webhook`, `type`, `status`, `attempts`, `received_at` (ISO 8601), `source`,
 * `next_attempt_at`, `last_error`; `show --json` adds `payload` (parsed) and replaces the
 * `attempts` count with the attempt history: an array of objects with `attempt`, `started_at`
 * (ISO 8601), `duration_ms`, `outcome` (`ok`, `error`, `timeout`, `crashed`), `error` and
 * `output` (the scrubbed tail of the run's output), oldest first.
 *
 * @module
 */
import type { Command } from "commander";
import { UserError } from "../errors.ts";
import {
  EVENT_STATUSES,
  type EventKey,
  type EventStatus,
  type Inbox,
  REQUEUEABLE_STATUSES,
  type StoredEvent,
} from "../inbox/types.ts";
import type { AttemptRecord } from "../inbox/attempts.ts";
import type { CliContext, Register } from "./context.ts";
import { isoTime, jsonText, parseDuration, parseInteger, table } from "./format.ts";

/** The stable JSON shape of an event in `whd events list --json`. */
export function eventSummary(event: StoredEvent): Record<string, unknown> {
  return {
    id: event.id,
    provider: event.provider,
    webhook: event.webhook,
    type: event.type,
    status: event.status,
    attempts: event.attempts,
    received_at: isoTime(event.received_at),
    source: event.source,
    next_attempt_at: event.next_attempt_at === null ? null : isoTime(event.next_attempt_at),
    last_error: event.last_error,
  };
}

/** The stable JSON shape of one attempt in `whd events show --json`. */
export function attemptSummary(record: AttemptRecord): Record<string, unknown> {
  return {
    attempt: record.attempt,
    started_at: isoTime(record.started_at),
    duration_ms: record.duration_ms,
    outcome: record.outcome,
    error: record.error,
    output: record.output,
  };
}

/** An attempt as text: a heading line, then its error and output indented. */
function _attemptText(record: AttemptRecord): string {
  const lines = [
    `  #${record.attempt}  ${
      isoTime(record.started_at)
    }  ${record.duration_ms} ms  ${record.outcome}`,
  ];
  if (record.error) lines.push(`    error: ${record.error.split("\n").join("\n           ")}`);
  const output = record.output.trimEnd();
  if (output) {
    lines.push("    output:");
    for (const line of output.split("\n")) lines.push(`      ${line}`);
  }
  return lines.join("\n") + "\n";
}

function parseStatus(text: string, allowed: readonly EventStatus[] = EVENT_STATUSES): EventStatus {
  if (!allowed.includes(text as EventStatus)) {
    throw new UserError(`--status "${text}" is not one of ${allowed.join(", ")}`, { exitCode: 2 });
  }
  return text as EventStatus;
}

async function withInbox<T>(ctx: CliContext, run: (inbox: Inbox) => Promise<T>): Promise<T> {
  const inbox = await ctx.openInbox();
  try {
    return await run(inbox);
  } finally {
    inbox.close();
  }
}

/** Finds exactly one event by id (and provider), or explains why not. */
export async function findOne(inbox: Inbox, id: string, provider?: string): Promise<StoredEvent> {
  const found = await inbox.find(id, provider);
  if (found.length === 0) {
    throw new UserError(
      `no event ${id}${provider ? ` from provider ${provider}` : ""}: see \`whd events list\``,
    );
  }
  if (found.length > 1) {
    throw new UserError(
      `event id ${id} exists for several providers (${
        found.map((e) => e.provider).join(", ")
      }): add --provider`,
      { exitCode: 2 },
    );
  }
  return found[0];
}

const _LIST_COLUMNS = [
  "id",
  "provider",
  "webhook",
  "type",
  "status",
  "attempts",
  "received_at",
  "source",
];
const _REQUEUEABLE_TEXT = REQUEUEABLE_STATUSES.join(", ");

const key = (event: StoredEvent): EventKey => ({ provider: event.provider, id: event.id });

/** Registers `whd events` and its subcommands. */
export const register: Register = (program, context) => {
  const events = program.command("events").description(
    "list, inspect, retry, replay and purge stored events",
  );

  events.command("list")
    .description("list stored events, newest first")
    .option("--status <status>", `only this status (${EVENT_STATUSES.join("|")})`)
    .option("--provider <name>", "only this provider")
    .option("--type <type>", "only this event type")
    .option("--limit <n>", "at most this many", "50")
    .option("--json", "print JSON (stable format)")
    .action(async (options, command: Command) => {
      const ctx = await context(command.optsWithGlobals());
      const filter = {
        status: options.status ? parseStatus(options.status) : undefined,
        provider: options.provider,
        type: options.type,
        limit: parseInteger(options.limit, "--limit", 1, 100_000),
      };
      const rows = await withInbox(ctx, (inbox) => inbox.list(filter));
      if (options.json) return ctx.out(jsonText(rows.map(eventSummary)));
      ctx.out(table(rows.map(eventSummary), _LIST_COLUMNS));
    });

  events.command("show")
    .description("show one event with its payload")
    .argument("<id>", "event id")
    .option("--provider <name>", "provider, when the id exists for several")
    .option("--json", "print JSON")
    .action(async (id: string, options, command: Command) => {
      const ctx = await context(command.optsWithGlobals());
      const [event, attempts] = await withInbox(ctx, async (inbox) => {
        const found = await findOne(inbox, id, options.provider);
        return [found, await inbox.attempts(key(found))] as const;
      });
      let payload: unknown = event.payload;
      try {
        payload = JSON.parse(event.payload);
      } catch { /* stored as received; show the text */ }
      if (options.json) {
        return ctx.out(
          jsonText({ ...eventSummary(event), attempts: attempts.map(attemptSummary), payload }),
        );
      }
      const summary = eventSummary(event);
      for (const [k, v] of Object.entries(summary)) ctx.out(`${k.padEnd(16)}${v ?? ""}\n`);
      ctx.out(`history:${attempts.length === 0 ? " (no runs recorded)" : ""}\n`);
      for (const record of attempts) ctx.out(_attemptText(record));
      ctx.out(`payload:\n${JSON.stringify(payload, null, 2)}\n`);
    });

  events.command("retry")
    .description(
      `re-queue one event, or every event with --status (${REQUEUEABLE_STATUSES.join("|")})`,
    )
    .argument("[id]", "event id")
    .option("--status <status>", "re-queue every event with this status")
    .option("--provider <name>", "narrow to one provider")
    .action(async (id: string | undefined, options, command: Command) => {
      const ctx = await context(command.optsWithGlobals());
      if ((id === undefined) === (options.status === undefined)) {
        throw new UserError(
          "give an event id or --status (not both), e.g. `whd events retry --status dead`",
          {
            exitCode: 2,
          },
        );
      }
      const requeued = await withInbox(ctx, async (inbox) => {
        if (id !== undefined) {
          const event = await findOne(inbox, id, options.provider);
          if (!REQUEUEABLE_STATUSES.includes(event.status)) {
            throw new UserError(
              `event ${id} is ${event.status}; only ${_REQUEUEABLE_TEXT} events can be retried` +
                (event.status === "done"
                  ? " (use `whd events replay` to run a done event again)"
                  : ""),
            );
          }
          return await inbox.requeue(key(event), ctx.clock.now());
        }
        const status = parseStatus(options.status, REQUEUEABLE_STATUSES);
        return await inbox.requeue({ status, provider: options.provider }, ctx.clock.now());
      });
      for (const k of requeued) ctx.out(`re-queued ${k.provider} ${k.id}\n`);
      ctx.out(`re-queued ${requeued.length} event${requeued.length === 1 ? "" : "s"}\n`);
    });

  events.command("replay")
    .description("run a done event again (same payload, new attempt)")
    .argument("<id>", "event id")
    .option("--provider <name>", "provider, when the id exists for several")
    .action(async (id: string, options, command: Command) => {
      const ctx = await context(command.optsWithGlobals());
      await withInbox(ctx, async (inbox) => {
        const event = await findOne(inbox, id, options.provider);
        if (event.status !== "done" || !(await inbox.replay(key(event), ctx.clock.now()))) {
          throw new UserError(
            `event ${id} is ${event.status}; only done events can be replayed (use \`whd events retry\` for failed or dead ones)`,
          );
        }
      });
      ctx.out(`replaying ${id}: queued to run again\n`);
    });

  events.command("purge")
    .description("delete done and ignored events older than a duration")
    .requiredOption("--older-than <duration>", "e.g. 30d, 12h")
    .action(async (options, command: Command) => {
      const ctx = await context(command.optsWithGlobals());
      const age = parseDuration(options.olderThan, "--older-than");
      const before = ctx.clock.now() - age;
      const deleted = await withInbox(ctx, (inbox) => inbox.purge(before));
      ctx.out(
        `deleted ${deleted} done or ignored event${deleted === 1 ? "" : "s"} received before ${
          isoTime(before)
        }\n`,
      );
    });
};
