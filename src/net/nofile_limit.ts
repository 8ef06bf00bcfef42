/**
 * Raises the soft limit on open files (`RLIMIT_NOFILE`) to the hard limit, the way servers do
 * at start: the default soft limit of 1024 is about a thousand connections. Deno has no
 * `setrlimit`, so libc's is called through FFI (`Deno.dlopen`, needs `--allow-ffi`, included in
 * `--allow-all` and in a compiled whd). Where that is not possible (another OS, no FFI
 * permission, no libc.so.6) the limit is left as it is and the reason returned.
 *
 * @example
 * ```ts ignore
 * import { raiseNofileLimit } from "./nofile_limit.ts";
 * const result = raiseNofileLimit();
 * // { soft: 524288, hard: 524288, raisedFrom: 1024 } or { soft: 1024, hard: 4096, error: "…" }
 * ```
 * @module
 */

/** The limits after the attempt; `error` says why it could not be read or raised. */
export interface NofileLimit {
  /** The soft limit now in force (NaN when it could not be read). */
  soft: number;
  hard: number;
  /** The soft limit before, when it was raised. */
  raisedFrom?: number;
  error?: string;
}

/** `RLIMIT_NOFILE` on Linux (x86_64 and aarch64 alike). */
const _RLIMIT_NOFILE = 7;
/** `RLIM_INFINITY`: a hard limit of "unlimited" cannot be a soft NOFILE limit. */
const _INFINITY = 0xffff_ffff_ffff_ffffn;
/** The kernel's usual `fs.nr_open` ceiling, used when the hard limit is unlimited. */
const _NR_OPEN = 1_048_576n;

/** Reads the limits and sets the soft one to the hard one where possible. */
export function raiseNofileLimit(): NofileLimit {
  if (Deno.build.os !== "linux") {
    return { soft: NaN, hard: NaN, error: `not supported on ${Deno.build.os}` };
  }
  let lib;
  try {
    lib = Deno.dlopen(
      "libc.so.6",
      {
        getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
        setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
      } as const,
    );
  } catch (error) {
    return { soft: NaN, hard: NaN, error: error instanceof Error ? error.message : String(error) };
  }
  try {
    const limits = new BigUint64Array(2);
    const bytes = new Uint8Array(limits.buffer);
    if (lib.symbols.getrlimit(_RLIMIT_NOFILE, bytes) !== 0) {
      return { soft: NaN, hard: NaN, error: "getrlimit failed" };
    }
    const [soft, hard] = limits;
    const target = hard === _INFINITY ? _NR_OPEN : hard;
    if (soft >= target) return { soft: Number(soft), hard: Number(hard) };
    limits[0] = target;
    if (lib.symbols.setrlimit(_RLIMIT_NOFILE, bytes) !== 0) {
      return { soft: Number(soft), hard: Number(hard), error: "setrlimit failed" };
    }
    return { soft: Number(target), hard: Number(hard), raisedFrom: Number(soft) };
  } finally {
    lib.close();
  }
}
