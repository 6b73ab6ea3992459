// Multipart part sizes: S3 allows at most 10,000 parts of 5 MiB to 5 GiB each. A known length
// gets the configured part size, raised until the object fits in 10,000 parts; an unknown length
// gets the configured size (8 MiB by default: objects up to ~78 GiB) — repository packs always
// declare theirs.
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;
export const MAX_PARTS = 10_000;

export function choosePartSize(contentLength: number | undefined, preferredBytes: number): number {
  const preferred = Math.min(MAX_PART_BYTES, Math.max(MIN_PART_BYTES, preferredBytes));
  if (contentLength === undefined) return preferred;
  const needed = Math.ceil(contentLength / MAX_PARTS);
  // Round up to a whole MiB so part boundaries stay tidy.
  const mib = 1024 * 1024;
  return Math.min(MAX_PART_BYTES, Math.max(preferred, Math.ceil(needed / mib) * mib));
}
