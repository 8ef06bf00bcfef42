/**
 * Writes signing secrets to an env file (`NAME=value` lines) readable only by its owner, so a
 * secret Stripe returns once is kept without ever being printed or logged.
 *
 * @example
 * ```ts
 * import { writeSecretFile } from "./secret_file.ts";
 * await writeSecretFile(".env.whd", [{ name: "STRIPE_WEBHOOK_SECRET", value: "whsec_…" }]);
 * ```
 * @module
 */
import { errorMessage, UserError } from "../errors.ts";

/** One variable to set. */
export interface SecretEntry {
  name: string;
  value: string;
}

/**
 * Sets each `NAME=value` in the file at `path`: replaces an existing `NAME=` line, appends
 * otherwise, keeps every other line. The file is written to a temporary file with mode 0600
 * and renamed into place, so it is never readable by others, even briefly.
 */
export async function writeSecretFile(
  path: string,
  entries: readonly SecretEntry[],
): Promise<void> {
  let lines: string[] = [];
  try {
    lines = (await Deno.readTextFile(path)).split("\n");
    if (lines.at(-1) === "") lines.pop();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new UserError(`cannot read --secret-file ${path}: ${errorMessage(error)}`);
    }
  }
  for (const { name, value } of entries) {
    const line = `${name}=${value}`;
    const at = lines.findIndex((l) => l.replace(/^export\s+/, "").startsWith(`${name}=`));
    if (at >= 0) lines[at] = line;
    else lines.push(line);
  }
  const temp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    try {
      const bytes = new TextEncoder().encode(lines.join("\n") + "\n");
      // write() may take fewer bytes than given.
      for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
      await file.sync();
    } finally {
      file.close();
    }
    if (Deno.build.os !== "windows") await Deno.chmod(temp, 0o600);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new UserError(`cannot write --secret-file ${path}: ${errorMessage(error)}`);
  }
}
