/**
 * The size of a request's head as sent, for the listener's `max_header_bytes` check (431).
 *
 * A request `Deno.serve`'s engine hands over keeps its headers in the runtime, which answers
 * `headers.get(name)` one name at a time. Walking every header through the public `Headers`
 * (`forEach`, `for…of`) makes the runtime build, and keep on the request for as long as it is in
 * flight, a lowercased and sorted copy of the list; under load those copies outlive V8's
 * young-generation collections, as every delivery waits a few milliseconds for its group's
 * commit (README "Performance": scavenges ~25% cheaper without them, +3–4% requests/s). So the
 * sizes are summed over the runtime's own list instead (`InnerRequest.headerList`, reached
 * through the `Headers` object's internal "header target", as `serve_http.ts` reaches the
 * engine): built afresh on each read and dropped at once. On a request or a Deno without it,
 * `forEach` counts instead (the same, but for a repeated name: its values joined in one line).
 *
 * @example
 * ```ts
 * import { headBytes } from "./head_bytes.ts";
 * const request = new Request("http://x/hook", { method: "POST", headers: { "x-a": "1" } });
 * headBytes(request); // "POST" + url + 12, plus "x-a: 1\r\n"
 * ```
 * @module
 */

/** What the runtime's request behind a served `Headers` object offers. */
interface _HeaderTarget {
  readonly headerList?: unknown;
}

let _targetKey: symbol | null | undefined;

/** The `Headers` object's internal "header target" symbol; null when this Deno has none. */
function _targetSymbol(headers: Headers): symbol | null {
  if (_targetKey === undefined) {
    _targetKey = Object.getOwnPropertySymbols(headers).find((s) =>
      s.description === "header target"
    ) ?? null;
  }
  return _targetKey;
}

/** The runtime's `[name, value]` list behind `headers`, or undefined when there is none. */
export function runtimeHeaderList(headers: Headers): readonly [string, string][] | undefined {
  const key = _targetSymbol(headers);
  if (key === null) return undefined;
  const target = (headers as unknown as Record<symbol, _HeaderTarget | undefined>)[key];
  const list = target?.headerList;
  if (!Array.isArray(list)) return undefined;
  const first = list[0];
  if (first !== undefined && (!Array.isArray(first) || typeof first[0] !== "string")) {
    return undefined; // another shape than this Deno's: not ours to guess
  }
  return list as [string, string][];
}

/** Request line and header bytes: method, URL and 12, plus `name: value\r\n` per header. */
export function headBytes(request: Request): number {
  let size = request.method.length + request.url.length + 12;
  const list = runtimeHeaderList(request.headers);
  if (list === undefined) {
    // `forEach`, not `for…of`: no [name, value] array per header.
    request.headers.forEach((value, name) => size += name.length + value.length + 4);
    return size;
  }
  for (let i = 0; i < list.length; i++) size += list[i][0].length + list[i][1].length + 4;
  return size;
}
