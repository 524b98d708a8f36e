export { Catalog, type CatalogEvents, type CatalogOpenOptions, type CatalogRefreshOptions, type LazyOpen } from './catalog.js'
export { PHOTO_EXTRAS, type CatalogApi, type CatalogMedia, type SidecarSizer } from './ports.js'
export type { ListingEvent, MediaEvent, RefreshOptions, RefreshPhase, RefreshProgress, RefreshReport } from './refresh.js'
export type { QuickRefreshResult, RecordedAnswers } from './quick-refresh.js'
// reportedPhotoIds: from './lazy-merge.js' itself (this index would load the merge and the refresh with every catalog).
export { acquireRootLock, type RootLock } from './root-lock.js'
export { SCHEMA_VERSION } from './persist.js'
export { DEFAULT_FULL_LISTING_EVERY_MS } from './incremental.js'
export { readProgress, type CheckpointOptions, type ProgressMeta, type WorkCount } from './checkpoint.js'
export { catalogDamage, setAsideCatalog, setAsideDamagedCatalog } from './damaged.js'
// The state folder's paths have one owner, util/state-paths.ts; re-exported for the catalog's callers.
export { catalogPath, lockPath } from '../util/state-paths.js'
export * from './types.js'
export { asCatalogView, snapshotView, withMediaOnly, type CatalogView, type PhotoColumns } from './view.js'
