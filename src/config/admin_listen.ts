/**
 * `admin.listen`: `host:port`, `[v6]:port`, or `off`; and whether an address is loopback.
 *
 * @example
 * ```ts
 * import { parseAdminListen } from "./admin_listen.ts";
 * parseAdminListen("127.0.0.1:9090"); // { hostname: "127.0.0.1", port: 9090, loopback: true }
 * parseAdminListen("off"); // null
 * ```
 * @module
 */
import { UserError } from "../errors.ts";
import { ADMIN_LISTEN_DEFAULT, type Config } from "./schema.ts";

/** Where the admin listener binds. */
export interface AdminAddress {
  hostname: string;
  port: number;
  /** True for 127.0.0.0/8, ::1 and `localhost`: reachable from this machine only. */
  loopback: boolean;
}

/** The values of `admin.listen` that turn the admin listener off. */
export const ADMIN_OFF = "off";

/**
 * Parses `admin.listen`: null for `off`, the address otherwise. Throws a `RangeError` whose
 * message says what is wrong (the config check reports it with the key's line).
 */
export function parseAdminListen(value: string): AdminAddress | null {
  const text = value.trim();
  if (text.toLowerCase() === ADMIN_OFF) return null;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(text);
  if (!match) {
    throw new RangeError(
      `"${value}" is not host:port; write e.g. 127.0.0.1:9090, [::1]:9090 or off`,
    );
  }
  const hostname = match[1] ?? match[2];
  const port = Number(match[3]);
  if (port > 65535) throw new RangeError(`port ${port} is above 65535`);
  return { hostname, port, loopback: isLoopback(hostname) };
}

/** True when `hostname` names this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    /^(0:){7}0*1$/.test(h) || /^::ffff:127\./.test(h);
}

/** The environment variable that overrides `admin.listen` (as `WHD_PORT` does `server.port`). */
export const ADMIN_LISTEN_ENV = "WHD_ADMIN_LISTEN";

/**
 * The admin listener's address and token (null: off), from `admin.listen` or `WHD_ADMIN_LISTEN`
 * over it. Throws a {@linkcode UserError} (exit 2) for a bad address, an address beyond
 * loopback without `admin.token_env`, or a token variable that is unset or short.
 */
export function adminSettings(
  config: Pick<Config, "admin">,
  env: (name: string) => string | undefined,
): { address: AdminAddress; token?: string } | null {
  const admin = config.admin ?? { listen: ADMIN_LISTEN_DEFAULT };
  const fromEnv = env(ADMIN_LISTEN_ENV) || undefined; // empty: unset
  const listen = fromEnv ?? admin.listen;
  const where = fromEnv !== undefined ? ADMIN_LISTEN_ENV : "admin.listen";
  let address: AdminAddress | null;
  try {
    address = parseAdminListen(listen);
  } catch (error) {
    throw new UserError(`${where}: ${(error as Error).message}`, { exitCode: 2 });
  }
  if (address === null) return null;
  if (admin.token_env === undefined) {
    if (!address.loopback) {
      throw new UserError(
        `${where} ${listen} is reachable beyond this machine and admin.token_env is not set; ` +
          "set admin.token_env to a variable holding a long random token, or listen on 127.0.0.1",
        { exitCode: 2 },
      );
    }
    return { address };
  }
  const token = env(admin.token_env)?.trim();
  if (token === undefined || token.length < 16) {
    throw new UserError(
      `admin.token_env names ${admin.token_env}, which is ${
        token === undefined ? "not set" : "shorter than 16 characters"
      }; set it to a long random token (e.g. openssl rand -hex 32) in whd's environment`,
      { exitCode: 2 },
    );
  }
  return { address, token };
}
