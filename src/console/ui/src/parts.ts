/// <reference lib="dom" />
/**
 * Small pieces every view uses: a status badge, an error line, a time cell, the confirmation
 * step before an action, and a hook that loads JSON again whenever its inputs change.
 * Everything is rendered as text (htm turns `${value}` into text nodes).
 * @module
 */
import { html } from "htm/preact";
import type { VNode } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiError } from "./api.ts";
import { formatAge, formatTime } from "./format.ts";

/**
 * A status (or outcome) as a coloured badge.
 *
 * @example
 * ```ts ignore
 * html`<${Badge} value="dead" />`;
 * ```
 */
export function Badge({ value }: { value: string }): VNode {
  return html`<span class=${`badge badge-${value}`}>${value}</span>`;
}

/**
 * A time as its age, with the date and time beside it.
 *
 * @example
 * ```ts ignore
 * html`<${When} ms=${event.received_at} now=${Date.now()} />`;
 * ```
 */
export function When({ ms, now }: { ms: number | null | undefined; now: number }): VNode {
  if (ms === null || ms === undefined) return html`<span class="muted">—</span>`;
  return html`<span class="when" title=${formatTime(ms)}>${formatAge(ms, now)}<span
      class="when-abs"
    >${formatTime(ms)}</span></span>`;
}

/**
 * An error's message on its own line (nothing when there is none).
 *
 * @example
 * ```ts ignore
 * html`<${ErrorLine} error=${error} />`;
 * ```
 */
export function ErrorLine({ error }: { error: unknown }): VNode | null {
  if (error === undefined || error === null) return null;
  const message = error instanceof Error ? error.message : String(error);
  return html`<p class="error-line" role="alert">${message}</p>`;
}

/** Props of {@linkcode Confirm}. */
export interface ConfirmProps {
  /** What will happen, in a sentence. */
  question: string;
  /** The confirming button's label. */
  label: string;
  busy: boolean;
  confirm(): void;
  cancel(): void;
}

/**
 * The confirmation step of an action: the question and two buttons.
 *
 * @example
 * ```ts ignore
 * html`<${Confirm} question="Retry?" label="Confirm retry" busy=${false} confirm=${go} cancel=${no} />`;
 * ```
 */
export function Confirm(props: ConfirmProps): VNode {
  return html`
    <div class="confirm" role="dialog" aria-label=${props.label}>
      <p>${props.question}</p>
      <button class="primary" disabled=${props.busy} onClick=${props.confirm}>${props
        .label}</button>
      <button disabled=${props.busy} onClick=${props.cancel}>Cancel</button>
    </div>
  `;
}

/** What {@linkcode useJson} holds. */
export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
}

/**
 * Loads `load()` when any of `inputs` changes; the last answer stays shown while the next one
 * loads, and an answer that arrives after a newer request started is dropped.
 *
 * @example
 * ```ts ignore
 * const dead = useJson(() => api.get<{ groups: DeadGroup[] }>("/api/dead"), [tick]);
 * ```
 */
export function useJson<T>(load: () => Promise<T>, inputs: unknown[]): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const sequence = useRef(0);
  useEffect(() => {
    const mine = ++sequence.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => {
        if (mine === sequence.current) setState({ data, error: undefined, loading: false });
      },
      (error) => {
        if (mine === sequence.current) setState((s) => ({ ...s, error, loading: false }));
      },
    );
  }, inputs);
  return state;
}
