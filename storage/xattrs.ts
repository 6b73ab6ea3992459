// Extended attributes of folder backups, through @napi-rs/xattr (Node has no xattr API). Its calls
// never follow a symlink (the Rust xattr crate's l*xattr calls): a symlink's own attributes are
// read and set. It takes paths as text, so a path holding bytes that are not UTF-8
// (storage/raw-names.ts) is reached through /proc/self/fd: its folder opened, then the name in it
// (or, for a folder, `<its fd>/.`). Only a file, symlink or special file whose own name is not
// UTF-8 cannot be reached: that is said, never passed over in silence.
import { isUtf8 } from 'node:buffer';
import { closeSync, constants, openSync } from 'node:fs';
import { getAttributeSync, listAttributesSync, removeAttributeSync, setAttributeSync } from '@napi-rs/xattr';

/** Attribute name → value (base64), as FileMeta keeps them. */
export type Xattrs = Record<string, string>;

const NOT_REACHABLE = 'its name is not UTF-8, and the extended attribute library takes names as text';

/** The errno of the library's errors ("… (os error 95)"). */
function osError(err: unknown): number | undefined {
  const match = /\(os error (\d+)\)/.exec((err as Error).message ?? '');
  return match ? Number(match[1]) : undefined;
}

const REASONS: Record<number, string> = {
  1: 'operation not permitted',
  13: 'permission denied',
  7: 'the value is too large',
  28: 'no space for it on the file system',
  34: 'the value is too large',
  95: 'the file system does not support it',
  122: 'disk quota exceeded',
};

function reason(err: unknown): string {
  return REASONS[osError(err) ?? -1] ?? (err as Error).message;
}

/** Runs `fn` with a text path that reaches `path`, or returns undefined when there is none. */
function withTextPath<T>(path: string | Buffer, folder: boolean, fn: (text: string) => T): T | undefined {
  if (typeof path === 'string') return fn(path);
  const slash = path.lastIndexOf(0x2f);
  const name = path.subarray(slash + 1);
  const [opened, rest] = isUtf8(name)
    ? [slash < 0 ? Buffer.from('.') : path.subarray(0, Math.max(slash, 1)), name.toString('utf8')]
    : folder
      ? [path, '.']
      : [undefined, ''];
  if (opened === undefined) return undefined;
  const fd = openSync(opened, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return fn(`/proc/self/fd/${fd}/${rest}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * The extended attributes of `path` (undefined when it has none; a file system without them has
 * none), or why they could not be read. One list call per item; values are read only when the
 * list is not empty. Synchronous: a list call costs a few µs, less than a thread-pool round trip
 * (with 34k files of a node_modules copy, a whole backup's CPU time did not grow beyond the noise).
 */
export function readXattrs(path: string | Buffer, folder: boolean): { xattrs?: Xattrs; problem?: string } {
  let names: string[] | undefined;
  try {
    names = withTextPath(path, folder, (p) => listAttributesSync(p));
  } catch (err) {
    if (osError(err) === 95) return {};
    return { problem: reason(err) };
  }
  if (names === undefined) return { problem: NOT_REACHABLE };
  if (names.length === 0) return {};
  const list = names;
  let values: (Buffer | null)[] | undefined;
  try {
    values = withTextPath(path, folder, (p) => list.map((name) => getAttributeSync(p, name)));
  } catch (err) {
    return { problem: reason(err) };
  }
  const xattrs: Xattrs = {};
  list.forEach((name, i) => {
    // (null: removed between the list and the read.)
    const value = values?.[i];
    if (value) xattrs[name] = value.toString('base64');
  });
  return Object.keys(xattrs).length ? { xattrs } : {};
}

/** Only root sets attributes of these namespaces (Linux: CAP_SYS_ADMIN, or the security module's rules). */
const ROOT_ONLY = /^(trusted|security)\./;
const isRoot = process.getuid?.() === 0;

/**
 * Sets recorded attributes on `path`; calls `refused(name, why)` for each one the target refuses
 * (or, not being root, one of the trusted.* and security.* namespaces). Never throws for them.
 */
export function writeXattrs(
  path: string | Buffer,
  xattrs: Xattrs,
  folder: boolean,
  refused: (name: string, why: string) => void,
): void {
  const names = Object.keys(xattrs);
  const wanted = names.filter((name) => isRoot || !ROOT_ONLY.test(name));
  for (const name of names)
    if (!wanted.includes(name)) refused(name, 'only root sets trusted.* and security.* attributes');
  if (wanted.length === 0) return;
  let reached: boolean | undefined;
  try {
    reached = withTextPath(path, folder, (p) => {
      for (const name of wanted) {
        try {
          setAttributeSync(p, name, Buffer.from(xattrs[name] as string, 'base64'));
        } catch (err) {
          refused(name, reason(err));
        }
      }
      return true;
    });
  } catch (err) {
    for (const name of wanted) refused(name, reason(err));
    return;
  }
  if (!reached) for (const name of wanted) refused(name, NOT_REACHABLE);
}

/**
 * Removes a folder's default ACL (when it has one), so files made in it now do not inherit it; a
 * restore sets the recorded one again with the folder's other attributes, last.
 */
export function dropDefaultAcl(path: string | Buffer): void {
  try {
    withTextPath(path, true, (p) => removeAttributeSync(p, 'system.posix_acl_default'));
  } catch (err) {
    // ENODATA: it has none; EOPNOTSUPP: its file system has no ACLs.
    if (osError(err) !== 61 && osError(err) !== 95) throw err;
  }
}
