export { Catalog, type CatalogEvents, type CatalogOpenOptions } from './catalog.js'
export { PHOTO_EXTRAS, type CatalogApi, type CatalogMedia } from './ports.js'
export type { MediaEvent, RefreshOptions, RefreshPhase, RefreshProgress, RefreshReport } from './refresh.js'
export { acquireRootLock, type RootLock } from './root-lock.js'
export { SCHEMA_VERSION } from './persist.js'
export { catalogDamage, setAsideDamagedCatalog } from './damaged.js'
// The state folder's paths have one owner, util/state-paths.ts; re-exported for the catalog's callers.
export { catalogPath, lockPath } from '../util/state-paths.js'
export * from './types.js'
