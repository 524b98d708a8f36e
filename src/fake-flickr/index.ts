/**
 * A fake Flickr on 127.0.0.1 for tests, benchmarks and `flickrfs demo`. It is faithful to
 * docs/FLICKR.md, quirks included (numeric type drift, absent empty arrays, pages 0 when
 * empty, the last page repeated past the end, OAuth signed over the canonical https URLs) and it
 * injects the documented failures on demand (faults.ts).
 *
 *   const fake = await startFakeFlickr({ account: generateAccount({ seed: 1, photos: 700, videos: 20 }) })
 *   // point flickrfs at fake.origin (FLICKRFS_API_ORIGIN) and log in with fake.credentials
 *   fake.account.editPhoto(id, { title: 'new' })                  // the next API call sees it
 *   fake.faults.inject('http500', { count: 2, target: 'flickr.people.getPhotos' })
 *   fake.faults.hostile = { [photoId]: 'redirectLoop' }               // one item misbehaves, every time
 *   fake.faults.inject('dropList', { count: Infinity, target: 'flickr.people.getPhotos' })
 *   assert.equal(fake.counts()['flickr.people.getPhotos'], 2)
 *   await fake.close()
 *
 * Routes: /services/rest (GET, POST urlencoded or multipart), /services/oauth/{request_token,
 * authorize,access_token}, /media/<server>/<id>_<secret>_<suffix>.<ext> (originals are suffix o),
 * /media/video/<id>/<secret>/{orig.<fmt>,<id>_<secret>.<fmt>,hd.mp4,site.mp4}, /photos/<user>/<id>/play/{orig,hd,site}/<secret>/.
 * REST answers format=json, or XML for format=rest (the default); OAuth parameters may come in the
 * query, the body or an `Authorization: OAuth` header.
 */
export { FakeAccount, flickrLongId, formatDateTaken, originalIdentity } from './account.js'
export type { Clock, CollectionInit, FakeCollection, FakeComment, FakeGeo, FakePhoto, FakeSet, FakeUser, PhotoInit } from './account.js'
export { accountFingerprint, generateAccount, ODD_TITLES } from './generate.js'
export type { GenerateOptions } from './generate.js'
export { FAULT_KINDS, FaultSettings, HOSTILE_KINDS } from './faults.js'
export type { FaultInjection, FaultKind, FaultTarget, HostileKind } from './faults.js'
export { LIE_BYTES, LONG_FORMAT } from './hostile.js'
export { mediaBytes, mediaChunks } from './media-bytes.js'
export { startFakeFlickr } from './server.js'
export type { FakeCredentials, FakeFlickr, RestCall, StartOptions } from './server.js'
