/**
 * glibc's malloc settings for a process flickrfs starts itself (a background mount, the child of a
 * big pin: cli/pin-relaunch.ts). glibc reads them only as a process starts (node has no mallopt),
 * so only a child can be given them; contrib/flickrfs.service sets them for the service.
 *
 * The mmap threshold fixed at 128 KB: by default glibc raises it to the largest block freed so far,
 * so once the sqlite driver's chunk-sized copies (~1.6 MB each) come and go, the next ones are
 * carved from its arenas and stay in the process's RSS. bench/RESULTS.md "catalog-lean" (offline
 * mount) and "sync-peak" (first sync, refresh).
 */
export const MALLOC_RETURNS_LARGE_BLOCKS: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' }
