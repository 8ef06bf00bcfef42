/**
 * `deno task bench`: runs every `bench/*_bench.ts` (or those named on the command line) one at
 * a time in its own process, so they do not disturb each other. Each prints its results as
 * ratios against a baseline it measures in the same run.
 *
 * @module
 */
const dir = new URL(".", import.meta.url);
const wanted = Deno.args;
const files: string[] = [];
for await (const entry of Deno.readDir(dir)) {
  if (entry.isFile && entry.name.endsWith("_bench.ts")) files.push(entry.name);
}
files.sort();
let failed = 0;
for (const name of files.filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))) {
  console.log(`\n## ${name}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(name, dir).pathname],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    failed++;
    console.log(`${name} failed with exit code ${code}`);
  }
}
Deno.exit(failed ? 1 : 0);
