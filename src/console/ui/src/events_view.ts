/// <reference lib="dom" />
/**
 * The events list: counts per status, filters (provider, webhook, type, status, time range),
 * search by id, newest first, refreshed on every change the live stream reports, with
 * "Load more" for older pages.
 * @module
 */
import { html } from "htm/preact";
import type { VNode } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, type Counts, EVENT_STATUSES, type EventPage, type EventSummary } from "./api.ts";
import { fromLocalInput, toLocalInput } from "./format.ts";
import { Badge, ErrorLine, When } from "./parts.ts";
import { eventHref, eventsHref } from "./router.ts";

/** The filter fields, as kept in the URL. */
const _FIELDS = ["provider", "webhook", "type", "status", "range", "since", "until", "q"];
const _RANGES: Record<string, number> = {
  "15m": 900_000,
  "1h": 3_600_000,
  "24h": 86_400_000,
  "7d": 604_800_000,
};
const _PAGE = 50;
const _MAX_PAGE = 200;

/** Props of {@linkcode EventsView}. */
export interface EventsViewProps {
  api: Api;
  now: () => number;
  /** Bumped on every change the live stream reports. */
  tick: number;
  counts: Counts | undefined;
  query: URLSearchParams;
  navigate(hash: string): void;
}

function _filters(query: URLSearchParams): Record<string, string> {
  return Object.fromEntries(_FIELDS.map((f) => [f, query.get(f) ?? ""]));
}

/** The `/api/events` query of `filters` (a relative range measured from `now`). */
function _apiQuery(filters: Record<string, string>, now: number, limit: number): URLSearchParams {
  const query = new URLSearchParams();
  for (const key of ["provider", "webhook", "type", "status", "q", "since", "until"]) {
    if (filters[key] !== "") query.set(key, filters[key]);
  }
  const range = _RANGES[filters.range];
  if (range !== undefined && filters.since === "") query.set("since", String(now - range));
  query.set("limit", String(limit));
  return query;
}

const _key = (e: EventSummary) => `${e.provider}/${e.id}`;

/**
 * The refetched first page `fresh`, followed by the older rows of `old` that newer events
 * pushed out of it (rows "Load more" brought stay shown, and so does its cursor).
 */
function keepOlder(fresh: EventPage, old: EventPage | undefined): EventPage {
  const last = fresh.events.at(-1);
  // An empty first page (whd looks at a window of events per request) starts again: rows kept
  // from before could no longer match the filter.
  if (!old || !last || fresh.next === null) return fresh;
  const at = old.events.findIndex((e) => _key(e) === _key(last));
  if (at < 0 || at === old.events.length - 1) return fresh;
  const seen = new Set(fresh.events.map(_key));
  const older = old.events.slice(at + 1).filter((e) => !seen.has(_key(e)));
  return { events: [...fresh.events, ...older], next: old.next };
}

function CountChips(
  { counts, status, pick }: { counts: Counts | undefined; status: string; pick(s: string): void },
): VNode {
  const chip = (value: string, label: string, n: number | undefined) =>
    html`
      <button
        class=${`chip chip-${value || "all"}${status === value ? " chip-on" : ""}`}
        aria-pressed=${status === value}
        data-status=${value || "all"}
        onClick=${() => pick(value)}
      ><span class="chip-label">${label}</span> <span class="chip-count">${n ?? "…"}</span></button>
    `;
  return html`<div class="chips" aria-label="Counts per status">
    ${chip("", "all", counts?.total)} ${EVENT_STATUSES.map((s) => chip(s, s, counts?.[s]))}
  </div>`;
}

function FilterForm(
  { filters, apply }: { filters: Record<string, string>; apply(f: Record<string, string>): void },
): VNode {
  const [draft, setDraft] = useState(filters);
  useEffect(() => setDraft(filters), [JSON.stringify(filters)]);
  const field = (name: string) => (e: Event) =>
    setDraft({ ...draft, [name]: (e.target as HTMLInputElement).value });
  const text = (name: string, label: string, placeholder: string) =>
    html`<label class="field">${label}<input
        name=${name}
        value=${draft[name]}
        placeholder=${placeholder}
        onInput=${field(name)}
      /></label>`;
  const submit = (e: Event) => {
    e.preventDefault();
    apply(draft);
  };
  const time = (name: "since" | "until", label: string) =>
    html`<label class="field">${label}<input
        type="datetime-local"
        name=${name}
        value=${toLocalInput(draft[name] === "" ? undefined : Number(draft[name]))}
        onInput=${(e: Event) => {
      const ms = fromLocalInput((e.target as HTMLInputElement).value);
      setDraft({ ...draft, [name]: ms === undefined ? "" : String(ms) });
    }}
      /></label>`;
  return html`<form class="filters" onSubmit=${submit} aria-label="Filters">
    <label class="field field-search">Event id<input
        name="q"
        type="search"
        value=${draft.q}
        placeholder="evt_… (exact or prefix)"
        onInput=${field("q")}
      /></label>
    ${text("provider", "Provider", "any")} ${text("webhook", "Webhook", "any")}
    ${text("type", "Type", "any")}
    <label class="field">Status<select name="status" onChange=${field("status")}>
      <option value="" selected=${draft.status === ""}>any</option>
      ${
    EVENT_STATUSES.map((s) => html`<option value=${s} selected=${draft.status === s}>${s}</option>`)
  }
    </select></label>
    <label class="field">Received<select name="range" onChange=${field("range")}>
      ${
    [["", "any time"], ["15m", "last 15 min"], ["1h", "last hour"], ["24h", "last 24 h"], [
      "7d",
      "last 7 days",
    ]].map(([v, l]) => html`<option value=${v} selected=${draft.range === v}>${l}</option>`)
  }
    </select></label>
    ${time("since", "From")} ${time("until", "To")}
    <div class="filter-buttons">
      <button type="submit" class="primary">Apply</button>
      <button type="button" onClick=${() => apply(_filters(new URLSearchParams()))}>Clear</button>
    </div>
  </form>`;
}

function Row({ event, now }: { event: EventSummary; now: number }): VNode {
  return html`
    <tr data-id=${event.id} data-status=${event.status}>
      <td>
        <${When} ms=${event.received_at} now=${now} />
      </td>
      <td>
        <${Badge} value=${event.status} />
      </td>
      <td>${event.provider}<span class="muted"> · ${event.webhook}</span></td>
      <td class="mono">${event.type}</td>
      <td class="mono"><a href=${eventHref(event.provider, event.id)}>${event.id}</a></td>
      <td class="num">${event.attempts}</td>
      <td><span class="last-error clip" title=${event.last_error ?? ""}>${event.last_error ??
        ""}</span></td>
    </tr>
  `;
}

/**
 * The events list.
 *
 * @example
 * ```ts ignore
 * html`<${EventsView} api=${api} now=${Date.now} tick=${tick} counts=${counts} query=${q} navigate=${go} />`;
 * ```
 */
export function EventsView(props: EventsViewProps): VNode {
  const filters = _filters(props.query);
  const key = JSON.stringify(filters);
  const [page, setPage] = useState<EventPage | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [more, setMore] = useState(false);
  const sequence = useRef(0);
  const loaded = useRef(0);
  const shownKey = useRef(key);
  const shown = useRef<EventPage | undefined>(undefined);
  const [counts, setCounts] = useState<Counts | undefined>(props.counts);

  // The first page again (as many rows as are shown, up to 200) on a filter or a change.
  useEffect(() => {
    const mine = ++sequence.current;
    if (shownKey.current !== key) {
      // Other filters: start again from one page.
      shownKey.current = key;
      loaded.current = 0;
      shown.current = undefined;
    }
    const limit = Math.min(_MAX_PAGE, Math.max(_PAGE, loaded.current));
    props.api.get<EventPage>(`/api/events?${_apiQuery(filters, props.now(), limit)}`).then(
      (answer) => {
        if (mine !== sequence.current) return;
        const next = keepOlder(answer, shown.current);
        loaded.current = next.events.length;
        shown.current = next;
        setPage(next);
        setError(undefined);
      },
      (e) => mine === sequence.current && setError(e),
    );
  }, [key, props.tick]);
  useEffect(() => {
    if (props.counts) setCounts(props.counts);
    else props.api.get<Counts>("/api/counts").then(setCounts, setError);
  }, [props.counts, props.tick]);

  const loadMore = async () => {
    if (!page?.next) return;
    setMore(true);
    const mine = sequence.current;
    const query = _apiQuery(filters, props.now(), _PAGE);
    query.set("cursor", page.next);
    try {
      const answer = await props.api.get<EventPage>(`/api/events?${query}`);
      if (mine !== sequence.current) return;
      const events = [...page.events, ...answer.events];
      loaded.current = events.length;
      shown.current = { events, next: answer.next };
      setPage(shown.current);
    } catch (e) {
      setError(e);
    } finally {
      setMore(false);
    }
  };
  const apply = (next: Record<string, string>) => props.navigate(eventsHref(next));
  const now = props.now();
  return html`<section class="view view-events">
    <h1>Events</h1>
    <${CountChips}
      counts=${counts}
      status=${filters.status}
      pick=${(status: string) => apply({ ...filters, status })}
    />
    <${FilterForm} filters=${filters} apply=${apply} />
    <${ErrorLine} error=${error} />
    ${
    page === undefined
      ? html`<p class="muted">Loading…</p>`
      : page.events.length === 0
      ? html`<p class="empty">${
        page.next === null
          ? "No events match."
          : "No match among the newest events whd looked at: Load more looks further back."
      }</p>`
      : html`
        <div class="table-wrap">
          <table class="events">
            <thead>
              <tr>
                <th>Received</th>
                <th>Status</th>
                <th>Provider · webhook</th>
                <th>Type</th>
                <th
                >Id</th>
                <th class="num">Attempts</th>
                <th>Last error</th>
              </tr>
            </thead>
            <tbody>${page.events.map((e) =>
              html`<${Row} key=${`${e.provider}/${e.id}`} event=${e} now=${now} />`
            )}</tbody>
          </table>
        </div>
      `
  }
    ${
    page?.next
      ? html`<p class="more"><button onClick=${loadMore} disabled=${more}>${
        more ? "Loading…" : "Load more"
      }</button></p>`
      : null
  }
  </section>`;
}
