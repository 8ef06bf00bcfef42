/**
 * `whd schema`: print the config file's JSON Schema, for editors and CI validators.
 *
 * @module
 */
import type { Command } from "commander";
import { configJsonSchema } from "../config/json_schema.ts";
import type { Register } from "./context.ts";
import { jsonText } from "./format.ts";

const encoder = new TextEncoder();

/** Registers `whd schema` (it reads no config, so it works before there is one). */
export const register: Register = (program) => {
  program.command("schema")
    .description("print the JSON Schema of the config file (for editors: yaml-language-server)")
    .action((_options: unknown, _command: Command) => {
      const bytes = encoder.encode(schemaText());
      for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
    });
};

/** The schema as the command prints it: pretty JSON with a final newline. */
export function schemaText(): string {
  return jsonText(configJsonSchema());
}
