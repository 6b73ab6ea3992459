// Giving large buffers' memory back at once. A Buffer's memory is freed only when the garbage
// collector finds it dead, and V8 lets dead external memory (Buffers) grow by tens of MiB before
// it collects: in a backup that is most of the variance in peak RSS. Buffers this module is told
// are no longer used are detached (`ArrayBuffer.prototype.transfer(0)`), which frees their memory
// immediately. Only for buffers the caller allocated itself and no one else can still read.

/**
 * Below this, detaching is not worth a call. Small files' buffers are worth it: on a folder of
 * small files, waiting for the collector let tens of MiB of dead file contents and sealed blobs
 * pile up in the malloc heap. (Slices of Node's shared pools never span their whole ArrayBuffer,
 * so they are never detached.)
 */
const MIN_RELEASE_BYTES = 1024;

/**
 * Frees a buffer's memory now. Only a buffer that spans its whole ArrayBuffer is released (a view
 * into a larger or shared allocation is left to the collector); afterwards it has length 0.
 */
export function releaseBuffer(buf: Uint8Array): void {
  const ab = buf.buffer;
  if (!(ab instanceof ArrayBuffer) || buf.byteOffset !== 0 || buf.byteLength !== ab.byteLength) return;
  if (ab.byteLength < MIN_RELEASE_BYTES || ab.detached) return;
  try {
    ab.transfer(0);
  } catch {
    // Not detachable (e.g. memory owned by WebAssembly): the collector frees it.
  }
}
