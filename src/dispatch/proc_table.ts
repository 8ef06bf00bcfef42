/**
 * The process table as Linux's `/proc/<pid>/stat` shows it: enough to tell whether a process or
 * a process group still runs (a zombie does not) and who its parent is.
 *
 * @example
 * ```ts
 * import { procStat } from "./proc_table.ts";
 * procStat(Deno.pid)?.state; // "R" or "S"
 * ```
 * @module
 */

/** One process: its state letter (`R`, `S`, `Z` for a zombie, …), parent and process group. */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
}

/** Reads `/proc/<pid>/stat`; undefined when the process is gone (or there is no `/proc`). */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // pid (comm) state ppid pgrp …; the command name may hold spaces and parentheses.
  const [state, ppid, pgrp] = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, state, ppid: Number(ppid), pgrp: Number(pgrp) };
}

/** Every process in `/proc`; undefined when `/proc` cannot be read. */
export function allProcesses(): ProcStat[] | undefined {
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return undefined;
  }
  const processes: ProcStat[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = procStat(Number(entry.name)); // undefined: exited meanwhile
    if (stat) processes.push(stat);
  }
  return processes;
}

/** Whether a process state letter is that of a process that has exited (zombie or dead). */
export function exited(state: string): boolean {
  return state === "Z" || state === "X";
}
