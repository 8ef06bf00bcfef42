/// <reference lib="dom" />
/**
 * Handlers: the table `whd handlers` prints — which file handles which provider and type, how
 * it runs — and the files that failed to load, with why.
 * @module
 */
import { html } from "htm/preact";
import type { VNode } from "preact";
import type { Api, Handlers } from "./api.ts";
import { ErrorLine, useJson } from "./parts.ts";

/** Props of {@linkcode HandlersView}. */
export interface HandlersViewProps {
  api: Api;
  tick: number;
}

function Configured(
  { types }: { types: NonNullable<Handlers["types"]> },
): VNode {
  return html`
    <h2>Types the webhooks accept (events: filters)</h2>
    <table class="handler-types">
      <thead>
        <tr>
          <th>Provider</th>
          <th>Type</th>
          <th>Handled by</th>
        </tr>
      </thead>
      <tbody>${types.map((t) =>
        html`
          <tr key=${`${t.provider}/${t.type}`} class=${t.file ? "" : "row-error"}>
            <td>${t.provider}</td>
            <td class="mono">${t.type}</td>
            <td class="mono">${t.file ?? "no handler: these events end unhandled"}</td>
          </tr>
        `
      )}</tbody>
    </table>
  `;
}

/**
 * The handlers page.
 *
 * @example
 * ```ts ignore
 * html`<${HandlersView} api=${api} tick=${tick} />`;
 * ```
 */
export function HandlersView(props: HandlersViewProps): VNode {
  const loaded = useJson(() => props.api.get<Handlers>("/api/handlers"), []);
  const data = loaded.data;
  return html`<section class="view view-handlers">
    <h1>Handlers</h1>
    ${
    data?.dir
      ? html`<p class="lede">From <span class="mono">${data.dir}</span>${
        data.exists === false ? " (missing: every event is unhandled)" : ""
      }.</p>`
      : null
  }
    ${
    data?.running === false
      ? html`<p class="notice">This whd runs no handlers (--no-handlers): events wait for a whd that does.</p>`
      : null
  }
    <${ErrorLine} error=${loaded.error} />
    ${data === undefined ? html`<p class="muted">Loading…</p>` : null}
    ${
    data && data.errors.length > 0
      ? html`
        <div class="load-errors" role="alert">
          <h2>Load errors</h2>
          <ul>${data.errors.map((e) =>
            html`<li><span class="mono">${e.file}</span>: <span class="last-error">${e.message}</span></li>`
          )}</ul>
        </div>
      `
      : null
  }
    ${
    data && data.handlers.length === 0
      ? html`<p class="empty">No handlers found: add files under the handlers directory.</p>`
      : null
  }
    ${
    data && data.handlers.length > 0
      ? html`
        <table class="handlers">
          <thead>
            <tr>
              <th>Provider</th>
              <th>Type</th>
              <th>File</th>
              <th>Kind</th>
              <th>Mode</th>
              <th
              >Error</th>
            </tr>
          </thead>
          <tbody>${data.handlers.map((h) =>
            html`
              <tr key=${h.file} class=${h.error ? "row-error" : ""}>
                <td>${h.provider}</td>
                <td class="mono">${h.type}</td>
                <td class="mono">${h.file}</td>
                <td>${h.kind}</td>
                <td>${h.mode}</td>
                <td class="last-error">${h.error ?? ""}</td>
              </tr>
            `
          )}</tbody>
        </table>
      `
      : null
  }
    ${data?.types && data.types.length > 0 ? html`<${Configured} types=${data.types} />` : null}
  </section>`;
}
