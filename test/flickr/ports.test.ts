import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { FlickrClient, MediaClient, VirtualClock } from '../../src/flickr/index.js'
import type { CatalogApi, CatalogMedia } from '../../src/catalog/ports.js'
import type { MediaSource } from '../../src/store/media-source.js'
import { generateAccount, startFakeFlickr, type FakeFlickr } from '../../src/fake-flickr/index.js'

let fake: FakeFlickr
before(async () => {
  fake = await startFakeFlickr({ account: generateAccount({ seed: 13, photos: 3, videos: 1, sets: 1 }) })
})
after(async () => {
  await fake.close()
})

// The typecheck is the real test here: the catalog's and the store's ports must accept our clients.
void test('FlickrClient and MediaClient satisfy the catalog and store ports', async () => {
  const api: CatalogApi = new FlickrClient({ ...fake.credentials, apiOrigin: fake.origin, clock: new VirtualClock() })
  const media: CatalogMedia & MediaSource = new MediaClient({ origins: [fake.origin] })
  const [photo] = await api.getPhotostream(['url_o']) as Array<{ url_o?: string }>
  assert.ok(photo?.url_o)
  const head = await media.head(photo.url_o)
  const got = await media.get(photo.url_o)
  await got.body.cancel()
  assert.equal(got.size, head.size)
})
