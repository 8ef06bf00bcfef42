/// <reference lib="dom" />
/**
 * One event: what whd knows of it, the headers that matter, the payload as indented JSON (as
 * text), every attempt, and the **Retry** (failed/dead) or **Replay** (done) action behind a
 * confirmation step. The page reloads on every change, so the new attempt shows once it ran.
 * @module
 */
import { html } from "htm/preact";
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import type { Api, EventDetail } from "./api.ts";
import { formatDuration, prettyJson } from "./format.ts";
import { Badge, Confirm, ErrorLine, useJson, When } from "./parts.ts";
import { eventsHref } from "./router.ts";

/** Props of {@linkcode EventView}. */
export interface EventViewProps {
  api: Api;
  now: () => number;
  tick: number;
  provider: string;
  id: string;
}

const _ACTIONS = {
  retry: {
    label: "Retry",
    question: "Retry this event? It goes back to pending and its handler runs again.",
  },
  replay: {
    label: "Replay",
    question: "Replay this event? It was handled already; its handler runs once more.",
  },
} as const;

function Facts({ detail, now }: { detail: EventDetail; now: number }): VNode {
  const e = detail.event;
  const row = (label: string, value: unknown) =>
    html`
      <tr>
        <th scope="row">${label}</th>
        <td>${value}</td>
      </tr>
    `;
  return html`<table class="facts">
    ${row("Status", html`<${Badge} value=${e.status} />`)} ${row("Provider", e.provider)}
    ${row("Webhook", e.webhook)} ${row("Type", html`<span class="mono">${e.type}</span>`)}
    ${row("Source", e.source)} ${row("Attempts", e.attempts)}
    ${row("Received", html`<${When} ms=${e.received_at} now=${now} />`)}
    ${row("Updated", html`<${When} ms=${e.updated_at} now=${now} />`)}
    ${row("Completed", html`<${When} ms=${e.completed_at} now=${now} />`)}
    ${row("Next attempt", html`<${When} ms=${e.next_attempt_at} now=${now} />`)}
    ${
    e.last_error ? row("Last error", html`<span class="last-error">${e.last_error}</span>`) : null
  }
  </table>`;
}

function Headers({ headers }: { headers: Record<string, string> }): VNode {
  const names = Object.keys(headers).sort();
  if (names.length === 0) return html`<p class="muted">No headers stored for this event.</p>`;
  return html`
    <table class="headers">
      <tbody>${names.map((n) =>
        html`
          <tr>
            <th scope="row" class="mono">${n}</th>
            <td class="mono">${headers[n]}</td>
          </tr>
        `
      )}</tbody>
    </table>
  `;
}

function Attempts({ detail, now }: { detail: EventDetail; now: number }): VNode {
  if (detail.attempts.length === 0) return html`<p class="muted">No attempts yet.</p>`;
  return html`
    <table class="attempts">
      <thead>
        <tr>
          <th class="num">#</th>
          <th>Started</th>
          <th class="num">Duration</th>
          <th>Outcome</th>
          <th
          >Error</th>
          <th>Output (tail)</th>
        </tr>
      </thead>
      <tbody>${detail.attempts.map((a) =>
        html`
          <tr key=${a.attempt} data-attempt=${a.attempt} data-outcome=${a.outcome}>
            <td class="num">${a.attempt}</td>
            <td>
              <${When} ms=${a.started_at} now=${now} />
            </td>
            <td class="num">${formatDuration(a.duration_ms)}</td>
            <td>
              <${Badge} value=${a.outcome} />
            </td>
            <td class="last-error">${a.error ?? ""}</td>
            <td>${a.output ? html`<pre class="output">${a.output}</pre>` : null}</td>
          </tr>
        `
      )}</tbody>
    </table>
  `;
}

/**
 * One event's page.
 *
 * @example
 * ```ts ignore
 * html`<${EventView} api=${api} now=${Date.now} tick=${tick} provider="stripe" id="evt_1" />`;
 * ```
 */
export function EventView(props: EventViewProps): VNode {
  const path = `/api/events/${encodeURIComponent(props.provider)}/${encodeURIComponent(props.id)}`;
  const [again, setAgain] = useState(0);
  const loaded = useJson(() => props.api.get<EventDetail>(path), [path, props.tick, again]);
  const [asking, setAsking] = useState<"retry" | "replay" | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(undefined);
  const act = async (action: "retry" | "replay") => {
    setBusy(true);
    setFailure(undefined);
    try {
      const answer = await props.api.post<{ status: string }>(`${path}/${action}`);
      setNotice(
        `${_ACTIONS[action].label} queued: the event is ${answer.status}. ` +
          "The new attempt shows below once it has run.",
      );
      setAsking(undefined);
      setAgain((n) => n + 1);
    } catch (e) {
      setFailure(e);
    } finally {
      setBusy(false);
    }
  };
  const detail = loaded.data;
  const now = props.now();
  const back = eventsHref({});
  if (!detail) {
    return html`<section class="view view-event">
      <p><a href=${back}>← Events</a></p>
      <h1 class="mono">${props.id}</h1>
      ${
      loaded.error
        ? html`<${ErrorLine} error=${loaded.error} />`
        : html`<p class="muted">Loading…</p>`
    }
    </section>`;
  }
  const buttons = (["retry", "replay"] as const).filter((a) => detail.actions[a]);
  return html`<section class="view view-event">
    <p><a href=${back}>← Events</a></p>
    <h1 class="mono">${detail.event.id}</h1>
    <div class="actions">
      ${
    buttons.map((a) =>
      html`
        <button class=${`action action-${a}`} disabled=${busy || asking !== undefined}
          onClick=${() => {
            setNotice(undefined);
            setAsking(a);
          }}>${_ACTIONS[a].label}</button>
      `
    )
  }
      ${
    buttons.length === 0
      ? html`<span class="muted">No action: the event is ${detail.event.status}.</span>`
      : null
  }
    </div>
    ${
    asking
      ? html`
        <${Confirm}
          question=${_ACTIONS[asking].question}
          label=${`Confirm ${asking}`}
          busy=${busy}
          confirm=${() => act(asking)}
          cancel=${() => setAsking(undefined)}
        />
      `
      : null
  }
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <${ErrorLine} error=${failure ?? loaded.error} />
    <div class="event-grid">
      <div>
        <h2>Event</h2>
        <${Facts} detail=${detail} now=${now} />
        <h2>Headers</h2>
        <${Headers} headers=${detail.event.headers ?? {}} />
      </div>
      <div>
        <h2>Payload</h2>
        <pre class="payload">${prettyJson(detail.event.payload)}</pre>
      </div>
    </div>
    <h2>Attempts</h2>
    <${Attempts} detail=${detail} now=${now} />
  </section>`;
}
