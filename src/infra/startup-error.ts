import { mkdir, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * A bundled server (the embedded Postgres, a spawned redis-server) could not start for a reason
 * the user can fix. Its message is one line saying what failed and what to do; the CLIs print it
 * without a stack and exit 1.
 */
export class ServiceStartError extends Error {
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, ' ').trim());
    this.name = 'ServiceStartError';
  }
}

/**
 * The line that says why a server died (its last FATAL/ERROR, with a DETAIL after it), without
 * its log prefix, for a one-line reason.
 */
export function lastLine(output: string): string {
  const lines = output
    .split('\n')
    .map((l) =>
      l
        .replace(/^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] /, '')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .filter(Boolean);
  let at = lines.findLastIndex((l) => /FATAL|ERROR|PANIC|could not|# /.test(l));
  if (at < 0) at = lines.length - 1;
  const detail = lines[at + 1]?.startsWith('DETAIL:') ? ` (${lines[at + 1]})` : '';
  return `${lines[at] ?? ''}${detail}`.slice(0, 400);
}

/** What a file-system error means for a folder we must write, in words. */
export function folderProblem(err: unknown, dir: string, what: string): ServiceStartError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const why: Record<string, string> = {
    EROFS: 'the disk is read-only',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENOSPC: 'the disk is full',
    ENOTDIR: 'a file stands where a folder should be',
    EEXIST: 'a file stands where a folder should be',
  };
  return new ServiceStartError(
    `Cannot write ${what} at ${dir} (${why[code] ?? code}): set DATA_DIR to a writable folder, or DATABASE_URL and REDIS_URL to servers of your own.`,
  );
}

/**
 * `mkdir -p`, or a ServiceStartError with the real reason: a recursive mkdir on a read-only disk
 * reports ENOENT, so the first missing folder is made on its own to learn why it cannot be.
 */
export async function makeFolder(dir: string, what: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    let cause = err;
    let missing = dir;
    while (
      path.dirname(missing) !== missing &&
      !(await stat(path.dirname(missing)).then(
        () => true,
        () => false,
      ))
    )
      missing = path.dirname(missing);
    await mkdir(missing).then(
      () => rmdir(missing),
      (e: unknown) => (cause = e),
    );
    throw folderProblem(cause, dir, what);
  }
}
