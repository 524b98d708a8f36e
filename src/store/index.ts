export { OriginalStore } from './original-store.js'
export type {
  EnsureOptions,
  EnsureResult,
  EvictReport,
  OriginalStoreOptions,
  StoreStats,
  VerifyReport,
  VerifyResult,
  VerifyStatus,
} from './original-store.js'
export type { MediaResponse, MediaSource } from './media-source.js'
export { openStoreKeyv, type StoreRecord } from './store-index.js'
