/**
 * The one owner of where flickrfs keeps its own state under a cache root or DEST: everything lives
 * in ROOT/.flickrfs/. Catalog, store, pin, service and cli all build their paths here.
 */
import { join } from 'node:path'

/** The name of the state folder inside a root. */
export const STATE_DIR_NAME = '.flickrfs'

/** The name of the catalog inside the state folder. */
export const CATALOG_FILE_NAME = 'catalog.sqlite'
/** Paths relative to a root, for util/confine.ts's guard. */
export const STATE_REL = {
  tmp: join(STATE_DIR_NAME, 'tmp'),
  lock: join(STATE_DIR_NAME, 'lock'),
  manifest: join(STATE_DIR_NAME, 'manifest'),
  /** The manifest as flickrfs wrote it before its compact form (pin/manifest.ts). */
  legacyManifest: join(STATE_DIR_NAME, 'manifest.json'),
  /** The next manifest while a pin writes it. */
  manifestPart: join(STATE_DIR_NAME, 'tmp', 'manifest.part'),
  lastPin: join(STATE_DIR_NAME, 'last-pin.json'),
  treeRecord: join(STATE_DIR_NAME, 'tree-record'),
  /** A pin's tree entries while it writes the tree (pin/tree-record.ts TreeEntries). */
  treeEntriesPart: join(STATE_DIR_NAME, 'tmp', 'tree-entries.part'),
  /** The next tree record while a pin writes it. */
  treeRecordPart: join(STATE_DIR_NAME, 'tmp', 'tree-record.part'),
  mountLog: join(STATE_DIR_NAME, 'mount.log'),
  control: join(STATE_DIR_NAME, 'control'),
} as const

/** ROOT/.flickrfs */
export const stateDir = (root: string): string => join(root, STATE_DIR_NAME)
/** ROOT/.flickrfs/catalog.sqlite: the catalog and the store index (two keyv namespaces). */
export const catalogPath = (root: string): string => join(stateDir(root), CATALOG_FILE_NAME)
/** ROOT/.flickrfs/lock: one writer per root. */
export const lockPath = (root: string): string => join(stateDir(root), 'lock')
/** ROOT/.flickrfs/tmp: .part files of downloads and pin's temp files. */
export const tmpDir = (root: string): string => join(stateDir(root), 'tmp')
/** DEST/.flickrfs/manifest: what pin wrote (pin/manifest.ts). */
export const manifestPath = (root: string): string => join(stateDir(root), 'manifest')
/** DEST/.flickrfs/manifest.json: what pin wrote, as flickrfs wrote it before. */
export const legacyManifestPath = (root: string): string => join(stateDir(root), 'manifest.json')
/** DEST/.flickrfs/last-pin.json: the outcome of the last pin. */
export const lastPinPath = (root: string): string => join(stateDir(root), 'last-pin.json')
/** DEST/.flickrfs/tree-record: DEST's tree as the last clean pin left it (pin/tree-record.ts). */
export const treeRecordPath = (root: string): string => join(stateDir(root), 'tree-record')
/** CACHE/.flickrfs/mount.log: the log of a mount started with --background. */
export const mountLogPath = (root: string): string => join(stateDir(root), 'mount.log')
/** CACHE/.flickrfs/control/mount.sock: the control socket of the mount serving the root (its folder is 0700). */
export const controlSocketPath = (root: string): string => join(stateDir(root), 'control', 'mount.sock')
