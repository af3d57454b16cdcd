/**
 * Watches an application's folder for `garrison dev`: every change under it, at any depth, except in
 * node_modules, .garrison and .git and of database and log files (a store or a log kept beside the app
 * would restart it forever), gathered until the folder has been quiet for `quietMs` and reported once
 * with the paths that changed (an editor's temporary files, gone by then, are left out). The quiet period
 * is a clock timer, as every timer outside the scheduler must be.
 */
import { existsSync, readdirSync, statSync, watch, type Dirent, type FSWatcher } from 'node:fs';
import { join, relative } from 'node:path';
import type { Clock, TimerHandle } from '../runtime/index.js';

/** Dependencies, stores, logs: what changes while the app runs, not the app's code. */
const IGNORED =
  /(^|[\\/])(node_modules|\.garrison|\.git)([\\/]|$)|\.(db|db-wal|db-shm|db-journal|sqlite|log)$/;

export interface AppWatchOptions {
  readonly clock: Clock;
  /** Quiet time after the last change before reporting, in ms. Default 200. */
  readonly quietMs?: number;
  /** Called once per burst of changes with the changed paths, relative to the folder, sorted. */
  readonly onChange: (paths: readonly string[]) => void;
}

export interface AppWatch {
  close(): void;
}

export function watchAppFolder(folder: string, options: AppWatchOptions): AppWatch {
  const changed = new Set<string>();
  const watchers = new Map<string, FSWatcher>();
  let pending: TimerHandle | undefined;
  let closed = false;
  const flush = () => {
    pending = undefined;
    const all = [...changed].sort();
    changed.clear();
    const present = all.filter((path) => existsSync(join(folder, path)));
    const paths = present.length > 0 ? present : all;
    if (paths.length > 0 && !closed) options.onChange(paths);
  };
  // Each folder is watched by itself (not `recursive`): a folder's watch survives its files being
  // replaced by a rename, as editors and `sed -i` do, where a watch on the file would be lost.
  const watchDir = (dir: string) => {
    if (closed || watchers.has(dir)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (_event, file) => {
        const path = relative(folder, join(dir, file === null ? '.' : file.toString()));
        if (IGNORED.test(path)) return;
        if (isDirectory(join(folder, path))) watchTree(join(folder, path));
        changed.add(path);
        pending?.cancel();
        pending = options.clock.setTimer(options.quietMs ?? 200, flush);
      });
    } catch {
      return; // removed meanwhile
    }
    watcher.on('error', () => {
      watcher.close();
      watchers.delete(dir);
    });
    watchers.set(dir, watcher);
  };
  const watchTree = (dir: string) => {
    watchDir(dir);
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && !IGNORED.test(relative(folder, path))) watchTree(path);
    }
  };
  watchTree(folder);
  return {
    close() {
      closed = true;
      pending?.cancel();
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
