/**
 * Watches the rule file or directory and calls back (debounced) when something there changed.
 * The directory is watched rather than the file: editors save by writing a new file and renaming
 * it over the old one, and Kubernetes updates a mounted ConfigMap by swapping a `..data` symlink;
 * a watch on the file itself would go quiet after the first such change. Whether the rules really
 * changed is for the caller to decide (it compares the texts), so a spurious event costs one read.
 */
import { watch, statSync, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export interface RulesWatcher {
  close(): void;
}

export function watchRules(source: string, debounceMs: number, onChange: () => void, onError: (e: Error) => void): RulesWatcher {
  let dir: string;
  try {
    dir = statSync(source).isDirectory() ? source : dirname(source);
  } catch {
    dir = dirname(source);
  }
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;
  const fire = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) onChange();
    }, debounceMs);
    timer.unref();
  };
  const open = (): void => {
    try {
      watcher = watch(dir, { persistent: false }, fire);
      watcher.on('error', (e) => {
        watcher?.close();
        watcher = undefined;
        onError(e);
        again();
      });
    } catch (e) {
      onError(e as Error);
      again();
    }
  };
  // The directory itself may be replaced or briefly missing: watch it again, and look once, later.
  const again = (): void => {
    if (closed) return;
    retry = setTimeout(() => {
      retry = undefined;
      if (closed) return;
      open();
      fire();
    }, 1000);
    retry.unref();
  };
  open();
  return {
    close() {
      closed = true;
      watcher?.close();
      if (timer !== undefined) clearTimeout(timer);
      if (retry !== undefined) clearTimeout(retry);
    },
  };
}
