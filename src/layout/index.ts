export { buildLayout, buildLayoutInSteps, lookup, METADATA_FILE, NOT_IN_ANY_SET_DIR, PHOTOSTREAM_DIR } from './build-layout.js'
export { assignInodes, pathHash, ROOT_INO } from './inodes.js'
export { collectionMetadata, jsonBytes, PHOTO_METADATA_FORMAT, photoMetadata, photoSidecarSizer, photostreamMetadata, setMetadata } from './metadata.js'
export type { FlickrfsInfo, PhotoMetadataInput } from './metadata.js'
export {
  collectionDirName,
  cutToBytes,
  isSafeExt,
  isSafeFileName,
  isSafeId,
  isSafeSecret,
  mediaFileName,
  METADATA_SUFFIX,
  NAME_MAX_BYTES,
  normalizeExt,
  numberedName,
  numberPrefix,
  parseCollectionDirName,
  parseMediaFileName,
  parseSetDirName,
  parseSidecarName,
  safeTitle,
  SAFE_EXT,
  SAFE_ID,
  SAFE_SECRET,
  setDirName,
} from './names.js'
export { formatSha256Sums, parseSha256Sums, SHA256SUMS_FILE } from './sha256sums.js'
export type { ParsedSha256Sums, Sha256Line } from './sha256sums.js'
export { HOUR_CACHE_MAX, MAX_TIME_MS, mediaMtimeMs, parseDateTakenMs, wholeSecondsMs } from './times.js'
export { linkSize } from './types.js'
export type { LayoutInSteps } from './build-layout.js'
export type { BytesContent, Layout, LayoutDir, LayoutFile, LayoutLink, LayoutNode, KnownOriginal, LayoutOptions, LayoutStats, OriginalContent, OriginalHashes, TreeBuilding } from './types.js'
