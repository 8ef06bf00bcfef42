/// <reference lib="dom" />
/**
 * Dead letters: the dead events grouped by provider and type with their last error, a retry
 * per group and a retry of them all, each behind a confirmation step.
 * @module
 */
import { html } from "htm/preact";
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import type { Api, DeadGroup } from "./api.ts";
import { Confirm, ErrorLine, useJson, When } from "./parts.ts";
import { eventsHref } from "./router.ts";

/** Props of {@linkcode DeadView}. */
export interface DeadViewProps {
  api: Api;
  now: () => number;
  tick: number;
}

/** Which groups a retry covers: one group, or every dead event. */
type Target = { provider: string; type: string; count: number } | { all: number };

/**
 * The dead letters page.
 *
 * @example
 * ```ts ignore
 * html`<${DeadView} api=${api} now=${Date.now} tick=${tick} />`;
 * ```
 */
export function DeadView(props: DeadViewProps): VNode {
  const [again, setAgain] = useState(0);
  const loaded = useJson(
    () => props.api.get<{ groups: DeadGroup[] }>("/api/dead"),
    [props.tick, again],
  );
  const [asking, setAsking] = useState<Target | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(undefined);
  const groups = loaded.data?.groups ?? [];
  const total = groups.reduce((n, g) => n + g.count, 0);
  const retry = async (target: Target) => {
    setBusy(true);
    setFailure(undefined);
    try {
      const body = "all" in target ? {} : { provider: target.provider, type: target.type };
      const answer = await props.api.post<{ requeued: number }>("/api/dead/retry", body);
      setNotice(`Requeued ${answer.requeued} event${answer.requeued === 1 ? "" : "s"}.`);
      setAsking(undefined);
      setAgain((n) => n + 1);
    } catch (e) {
      setFailure(e);
    } finally {
      setBusy(false);
    }
  };
  const question = (t: Target) =>
    "all" in t
      ? `Retry all ${t.all} dead events? They go back to pending and their handlers run again.`
      : `Retry the ${t.count} dead ${t.provider} ${t.type} event${
        t.count === 1 ? "" : "s"
      }? They go back to pending and their handler runs again.`;
  const now = props.now();
  return html`<section class="view view-dead">
    <h1>Dead letters</h1>
    <p class="lede">Events whose handler failed on every attempt, grouped by type.</p>
    <div class="actions">
      <button class="action" disabled=${total === 0 || busy || asking !== undefined}
        onClick=${() => {
    setNotice(undefined);
    setAsking({ all: total });
  }}>Retry all dead (${total})</button>
    </div>
    ${
    asking
      ? html`
        <${Confirm}
          question=${question(asking)}
          label="Confirm retry"
          busy=${busy}
          confirm=${() => retry(asking)}
          cancel=${() => setAsking(undefined)}
        />
      `
      : null
  }
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <${ErrorLine} error=${failure ?? loaded.error} />
    ${
    loaded.data === undefined
      ? html`<p class="muted">Loading…</p>`
      : groups.length === 0
      ? html`<p class="empty">No dead events.</p>`
      : html`
        <table class="dead">
          <thead>
            <tr>
              <th>Provider</th>
              <th>Type</th>
              <th class="num">Dead</th>
              <th>Newest</th>
              <th
              >Last error</th>
              <th></th>
            </tr>
          </thead>
          <tbody>${groups.map((g) =>
            html`
              <tr key=${`${g.provider}/${g.type}`} data-type=${g.type}>
                <td>${g.provider}</td>
                <td class="mono"><a href=${eventsHref({
                  provider: g.provider,
                  type: g.type,
                  status: "dead",
                })}>${g.type}</a></td>
                <td class="num">${g.count}</td>
                <td>
                  <${When} ms=${g.newest_at} now=${now} />
                </td>
                <td class="last-error">${g.last_error ?? ""}</td>
                <td><button disabled=${busy || asking !== undefined}
                            onClick=${() => {
                              setNotice(undefined);
                              setAsking({ provider: g.provider, type: g.type, count: g.count });
                            }}>Retry ${g.count}</button></td>
              </tr>
            `
          )}</tbody>
        </table>
      `
  }
  </section>`;
}
