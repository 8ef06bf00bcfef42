/// <reference lib="dom" />
/**
 * The whd console page: a header with the views and the live state, and the view the URL's
 * hash names. Entry of the bundle (`deno task console:build` → `dist/app.js`).
 * @module
 */
import { html, render } from "htm/preact";
import type { VNode } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Api, type Counts, createApi, type Session } from "./api.ts";
import { DeadView } from "./dead_view.ts";
import { EventView } from "./event_view.ts";
import { EventsView } from "./events_view.ts";
import { HandlersView } from "./handlers_view.ts";
import { type LiveMode, watchChanges } from "./live.ts";
import { ErrorLine } from "./parts.ts";
import { parseRoute } from "./router.ts";
import { ThroughputView } from "./throughput_view.ts";

/** What the page is given. */
export interface AppProps {
  api: Api;
  now: () => number;
}

const _NAV = [
  ["events", "#/events", "Events"],
  ["dead", "#/dead", "Dead letters"],
  ["throughput", "#/throughput", "Throughput"],
  ["handlers", "#/handlers", "Handlers"],
] as const;

/**
 * The page.
 *
 * @example
 * ```ts ignore
 * render(html`<${App} api=${createApi(fetch)} now=${Date.now} />`, document.body);
 * ```
 */
function App({ api, now }: AppProps): VNode {
  const [hash, setHash] = useState(location.hash);
  const [tick, setTick] = useState(0);
  const [counts, setCounts] = useState<Counts | undefined>(undefined);
  const [mode, setMode] = useState<LiveMode>("connecting");
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(undefined);
  useEffect(() => {
    const onHash = () => setHash(location.hash);
    addEventListener("hashchange", onHash);
    api.session().then(setSession, setFailure);
    const stop = watchChanges(api, {
      change: (c) => {
        if (c) setCounts(c);
        setTick((t) => t + 1);
      },
      mode: setMode,
    });
    return () => {
      removeEventListener("hashchange", onHash);
      stop();
    };
  }, []);
  const navigate = (next: string) => {
    if (location.hash === next) setHash(next);
    else location.hash = next;
  };
  const logout = async () => {
    try {
      await api.post("/logout");
    } catch { /* the session is gone either way */ }
    location.assign("/");
  };
  const route = parseRoute(hash);
  const current = route.view === "event" ? "events" : route.view;
  const common = { api, now, tick };
  let view: VNode;
  switch (route.view) {
    case "event":
      view = html`<${EventView} ...${common} provider=${route.provider} id=${route.id} />`;
      break;
    case "dead":
      view = html`<${DeadView} ...${common} />`;
      break;
    case "throughput":
      view = html`<${ThroughputView} ...${common} range=${route.range} navigate=${navigate} />`;
      break;
    case "handlers":
      view = html`<${HandlersView} ...${common} />`;
      break;
    default:
      view = html`
        <${EventsView}
          ...${common}
          counts=${counts}
          query=${route.query}
          navigate=${navigate}
        />
      `;
  }
  return html`
    <div class="shell">
      <header class="top">
          <a class="brand" href="#/events">whd</a>
          <nav>${_NAV.map(([name, href, label]) =>
            html`
              <a href=${href} class=${current === name ? "nav nav-on" : "nav"}
                aria-current=${current === name ? "page" : undefined}>${label}${name === "dead" &&
                    counts && counts.dead > 0
                  ? html`
                    <span class="nav-count">${counts.dead}</span>
                  `
                  : null}</a>
            `
          )}</nav>
          <span class=${`live live-${mode}`} title="How this page hears of new events">${mode ===
              "live"
            ? "live"
            : mode === "polling"
            ? "polling every 2 s"
            : "connecting…"}</span>
          ${session?.auth === "token"
            ? html`<button class="logout" onClick=${logout}>Log out</button>`
            : null}
        </header>
      <main>
          <${ErrorLine} error=${failure} />
          ${view}
        </main>
    </div>
  `;
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(html`<${App} api=${createApi(fetch.bind(globalThis))} now=${Date.now} />`, root);
}
