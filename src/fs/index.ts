/** The mount: serves a layout read-only through FUSE. The only importer of fuse-native. */
export { mountFlickrfs, runUntilSignal, DEFAULTS, type MountHandle, type MountOptions, type RunUntilSignalOptions } from './mount.js'
export { checkMountpoint, unmountPath, findHolders, killFusermounts, exitingWithMount, mountAt, type Holder, type MountpointState } from './mountpoint.js'
export { fsnameHack } from './mount-options.js'
export type { FsDir, FsFile, FsLink, FsNode, FsTree, OriginalReader, TreeSource, WaitFor } from './types.js'
export type { FsOpsStats } from './ops.js'
export { fuseUsable } from './fuse-usable.js'
