/**
 * A fake Flickr on 127.0.0.1 for tests, benchmarks and `flickrfs demo`. It is faithful to
 * /work/shared/FLICKR.md, quirks included (numeric type drift, absent empty arrays, the last page
 * repeated past the end, OAuth signed over the canonical https URLs) and injects the documented
 * failures on demand (see faults.ts).
 */
export { FakeAccount, formatDateTaken, originalIdentity } from './account.js'
export type { Clock, CollectionInit, FakeCollection, FakeComment, FakeGeo, FakePhoto, FakeSet, FakeUser, PhotoInit } from './account.js'
export { accountFingerprint, generateAccount, ODD_TITLES } from './generate.js'
export type { GenerateOptions } from './generate.js'
export { FaultSettings } from './faults.js'
export type { FaultInjection, FaultKind, FaultTarget } from './faults.js'
export { mediaBytes, mediaChunks } from './media-bytes.js'
export { startFakeFlickr } from './server.js'
export type { FakeCredentials, FakeFlickr, StartOptions } from './server.js'
