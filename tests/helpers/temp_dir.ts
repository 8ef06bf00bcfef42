/**
 * A temporary directory removed when the test leaves its scope: `await using dir = await
 * tempDir()`. Every test that writes to disk uses one, so a run of the suite leaves nothing in
 * the system's temp directory.
 *
 * @example
 * ```ts ignore
 * await using dir = await tempDir();
 * await Deno.writeTextFile(`${dir.path}/whd.yaml`, "…");
 * ```
 * @module
 */

/** A temp dir that removes itself (recursively) on `await using` scope exit. */
export interface TempDir extends AsyncDisposable {
  path: string;
}

/** Makes a temp dir (prefix `whd_test_`) that removes itself at the end of the scope. */
export async function tempDir(prefix = "whd_test_"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}
