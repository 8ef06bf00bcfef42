/**
 * The counters of the inbox's write path (`group_writer.ts`), read by tests, benchmarks and
 * metrics through `LibsqlInbox.stats()`.
 *
 * @module
 */

/** Counters of the write path, for tests, benchmarks and metrics. */
export interface InboxStats {
  /** `accept` calls so far. */
  accepts: number;
  /** Write transactions that held accepts (committed or not). */
  acceptTransactions: number;
  /** Of those, the ones that failed. */
  failedTransactions: number;
  /** Most accepts written in one transaction. */
  largestBatch: number;
  /** Grouped write transactions of any kind (accepts, claims, outcomes). */
  writeTransactions: number;
  /** Calls that failed with StoreUnavailable (no answer within the deadline). */
  timeouts: number;
}
