/**
 * `whd backfill --hours 24 [--provider stripe] [--webhook default] [--types a,b] [--dry-run]
 * [--retry-failed] [--json]`: fetch the last hours of Stripe events through the Events API and
 * store the ones whd has not received yet, as if delivered (source `backfill`). The running
 * `whd serve` dispatcher then processes them with the handlers.
 *
 * Output: a progress bar on a terminal, a line per page otherwise, a JSON report with `--json`.
 * Exits non-zero when anything failed; running the same command again resumes.
 *
 * @module
 */
import type { Command } from "commander";
import { UserError } from "../errors.ts";
import { backfill, type BackfillProgress, type BackfillReport } from "../jobs/backfill.ts";
import type { ContextLoader, Register } from "./context.ts";
import { jsonText } from "./format.ts";
import { stripeClientFor } from "./stripe_target.ts";
import { parseList, pickProvider, pickWebhook } from "./target.ts";

/** Flags of `whd backfill`. */
interface _BackfillFlags {
  hours: string;
  provider?: string;
  webhook?: string;
  types?: string[];
  dryRun?: boolean;
  retryFailed?: boolean;
  json?: boolean;
}

/** Stripe keeps events for 30 days. */
const _MAX_HOURS = 720;

/** Registers `whd backfill`. */
export const register: Register = (program: Command, context: ContextLoader) => {
  program.command("backfill")
    .description(
      "fetch recent Stripe events through the API and store the ones not received yet (run again to resume)",
    )
    .option("--hours <n>", "how far back to fetch, in hours (Stripe keeps 30 days)", "24")
    .option("--provider <name>", "stripe provider in the config (default: the only one)")
    .option("--webhook <name>", "webhook to store the events under (default: default)")
    .option("--types <list>", "only these event types, comma-separated (a.b, a.*)", parseList)
    .option("--dry-run", "list and compare, change nothing")
    .option("--retry-failed", "re-queue events already stored but failed or dead")
    .option("--json", "print the report as JSON")
    .action(async (flags: _BackfillFlags) => {
      await _runBackfill(program, context, flags);
    });
};

/** The action of `whd backfill`. */
async function _runBackfill(
  program: Command,
  context: ContextLoader,
  flags: _BackfillFlags,
): Promise<BackfillReport> {
  const hours = Number(flags.hours);
  if (!Number.isFinite(hours) || hours <= 0 || hours > _MAX_HOURS) {
    throw new UserError(
      `--hours must be a number of hours above 0 and at most ${_MAX_HOURS} (Stripe keeps events for 30 days), not "${flags.hours}"`,
      { exitCode: 2 },
    );
  }
  const ctx = await context(program.opts());
  const provider = pickProvider(ctx.config, flags.provider, "stripe");
  const webhook = pickWebhook(provider, flags.webhook);
  const client = stripeClientFor(ctx, provider);
  const inbox = await ctx.openInbox();
  const now = ctx.clock.now();
  const bar = !flags.json && ctx.isTty;
  const onProgress = flags.json ? undefined : (p: BackfillProgress) => {
    if (bar) ctx.out(`\r${_bar(p.fraction)} ${_counts(p)}`);
    else ctx.out(`page ${p.page}: ${_counts(p)}\n`);
  };
  let report: BackfillReport;
  try {
    report = await backfill({
      inbox,
      client,
      provider,
      webhook,
      since: now - hours * 3_600_000,
      types: flags.types,
      dryRun: !!flags.dryRun,
      retryFailed: !!flags.retryFailed,
      clock: ctx.clock,
      onProgress,
    });
  } finally {
    if (bar) ctx.out("\n");
    inbox.close();
  }
  ctx.log.info("backfill finished", {
    provider: report.provider,
    webhook: report.webhook,
    found: report.found,
    new: report.new,
    already_stored: report.alreadyStored,
    requeued: report.requeued,
    errors: report.errors.length,
    dry_run: report.dryRun,
  });
  ctx.out(flags.json ? jsonText(report) : _formatReport(report, hours));
  if (report.errors.length > 0) {
    const first = report.errors[0];
    throw new UserError(
      `backfill incomplete: ${report.errors.length} error(s), first: ${
        first.id ? `${first.id}: ` : ""
      }${first.message}; ` +
        `run the same command again to resume (events already stored are skipped)`,
    );
  }
  return report;
}

function _counts(p: BackfillProgress): string {
  return `${p.found} found, ${p.new} new, ${p.alreadyStored} already stored`;
}

function _bar(fraction: number, width = 30): string {
  const full = Math.round(fraction * width);
  return `[${"#".repeat(full)}${".".repeat(width - full)}] ${
    String(Math.round(fraction * 100)).padStart(3)
  }%`;
}

/** The report as text for people. */
function _formatReport(report: BackfillReport, hours: number): string {
  const lines = [
    `${
      report.dryRun ? "dry run: " : ""
    }backfill ${report.provider}/${report.webhook}, last ${hours}h (since ${report.since})`,
    `found ${report.found}, new ${report.new}, already stored ${report.alreadyStored}, ` +
    `skipped by filter ${report.skipped}, re-queued ${report.requeued}, errors ${report.errors.length}`,
  ];
  for (const s of report.stuck) lines.push(`stuck: ${s.id} ${s.type} (${s.status})`);
  if (report.stuck.length > 0 && report.requeued === 0) {
    lines.push(`pass --retry-failed to re-queue the ${report.stuck.length} stuck event(s)`);
  }
  for (const e of report.errors) lines.push(`error: ${e.id ? `${e.id}: ` : ""}${e.message}`);
  if (report.dryRun) lines.push("dry run: nothing was changed");
  return lines.join("\n") + "\n";
}
