/**
 * Process checks for tests that start real processes: is a pid still running, and which
 * processes sit below a root (whd and its handler hosts, say).
 * @module
 */
import { allProcesses, exited, procStat } from "../../src/dispatch/proc_table.ts";

/** Whether process `pid` is still running (a zombie counts as gone). */
export function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && !exited(stat.state);
}

/** `root` and every process below it, from the parent ids in `/proc/<pid>/stat`. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const { pid, ppid } of allProcesses() ?? []) {
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}
