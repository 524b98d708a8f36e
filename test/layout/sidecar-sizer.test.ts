/**
 * The layout's sidecar sizer (metadata.ts `photoSidecarSizer`), which the catalog stores a
 * sidecar's lengths with: both lengths equal the real buffers' (`jsonBytes(photoMetadata(…))`,
 * with and without views) for odd records, and for every photo of a catalog refreshed from the
 * fake Flickr over HTTP. It measures the length without views from the views entry alone, so any
 * change to photoMetadata or to the JSON's format that it does not follow fails here.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mediaKey, type MediaEntry, type PhotoEntry, type RawRecord } from '../../src/catalog/index.js'
import { jsonBytes, PHOTO_METADATA_FORMAT, photoMetadata, photoSidecarSizer } from '../../src/layout/index.js'
import { ODD_TITLES } from '../../src/fake-flickr/index.js'
import { harness, refresh } from '../catalog/harness.js'
import { mediaEntry, photoEntry } from './fixture.js'

/** The real buffers' lengths, with views and without. */
function realSizes(photo: PhotoEntry, media: MediaEntry, comments: readonly RawRecord[] | undefined): [number, number] {
  const withViews = jsonBytes(photoMetadata({ photo, media, comments })).length
  const withoutViews = jsonBytes(photoMetadata({ photo, media, comments, ignoreViews: true })).length
  return [withViews, withoutViews]
}

function assertSized(photo: PhotoEntry, media: MediaEntry, comments: readonly RawRecord[] | undefined, what: string): void {
  assert.deepEqual(photoSidecarSizer.sizes(photo, media, comments), realSizes(photo, media, comments), what)
}

/** A fixture record with `raw` changed by `edit` (the fixture's own record otherwise). */
function photoWith(id: string, edit: (raw: RawRecord) => RawRecord, media: 'photo' | 'video' = 'photo'): PhotoEntry {
  const base = photoEntry({ id, media })
  return { ...base, raw: edit({ ...base.raw }) }
}

const COMMENTS: readonly RawRecord[] = [
  { id: 'c1', author: '1@N00', authorname: 'Zoë 東京', datecreate: '1600000000', _content: 'nice "shot"\n🌸 \\ \u0001' },
  { id: 'c2', author: '2@N00', authorname: 'b', datecreate: '1600000100', _content: '' },
]

void describe('the layout sidecar sizer', () => {
  void it('names the format of the JSON it measures', () => {
    assert.equal(photoSidecarSizer.format, PHOTO_METADATA_FORMAT)
  })

  void it('gives the real lengths of odd records: with and without views, comments, transcodes, unicode', () => {
    const cases: [string, PhotoEntry][] = [
      ['the fixture record (views a string)', photoEntry({ id: '1' })],
      ['no views', photoWith('2', ({ views: _, ...rest }) => rest)],
      ['views a number', photoWith('3', (r) => ({ ...r, views: 12345 }))],
      ['views null', photoWith('4', (r) => ({ ...r, views: null }))],
      ['views an object', photoWith('5', (r) => ({ ...r, views: { count: ['1', 2], note: 'é' } }))],
      ['views an empty object', photoWith('6', (r) => ({ ...r, views: {} }))],
      ['views undefined (left out of the JSON)', photoWith('7', (r) => ({ ...r, views: undefined }))],
      ['views first', photoWith('8', (r) => ({ views: '9', ...r }))],
      ['views last of the record', photoWith('9', ({ views, ...rest }) => ({ ...rest, views }))],
      ['views the only field', photoWith('10', () => ({ views: '1' }))],
      ['an empty record', photoWith('11', () => ({}))],
      ['spoofed comments and flickrfs fields', photoWith('12', (r) => ({ ...r, comments: 'x', flickrfs: { size: 1 } }))],
      ['a description with escapes', photoWith('13', (r) => ({ ...r, description: { _content: 'a "b"\\c\n\t\u0000 \u2028 <b>' } }))],
      ['a lone surrogate', photoWith('14', (r) => ({ ...r, title: 'bad \ud800 half' }))],
      ['a video', photoWith('15', (r) => r, 'video')],
      ...ODD_TITLES.map((title, i): [string, PhotoEntry] => [`title ${JSON.stringify(title)}`, photoWith(String(100 + i), (r) => ({ ...r, title }))]),
    ]
    const medias = (p: PhotoEntry): [string, MediaEntry][] => [
      ['original', mediaEntry(p)],
      ['a transcode with a label', mediaEntry(p, { kind: 'transcode', ext: 'mp4', label: 'Site MP4 – 東京', size: 1_234_567_890_123 })],
      ['a transcode without a label', mediaEntry(p, { kind: 'transcode', ext: 'mp4', size: 0 })],
    ]
    let differ = 0
    for (const [what, photo] of cases) {
      for (const [kind, media] of medias(photo)) {
        for (const comments of [undefined, [], COMMENTS]) {
          assertSized(photo, media, comments, `${what}, ${kind}, ${comments === undefined ? 'no' : comments.length} comments`)
          const [a, b] = realSizes(photo, media, comments)
          if (a !== b) differ++
        }
      }
    }
    // The cases do tell the two apart (a sizer answering one length twice fails above).
    assert.ok(differ > 0)
  })

  void it('gives the real lengths of every photo of a catalog refreshed from the fake Flickr', async (t) => {
    const h = await harness(t, { photos: 40, videos: 6, commentedFraction: 0.5, oddTitles: true })
    // Videos whose original is refused: their sidecars name the transcode that stands in.
    h.fake.faults.videoOriginal404 = true
    await refresh(h)
    const snap = h.catalog.snapshot()
    let sized = 0
    for (const photo of snap.photos.values()) {
      const media = snap.media.get(mediaKey(photo.id, photo.secret))
      if (media === undefined) continue
      assertSized(photo, media, snap.comments.get(photo.id), `photo ${photo.id}`)
      sized++
    }
    assert.equal(sized, 46)
    assert.ok(snap.comments.size > 0, 'comments')
    assert.ok([...snap.media.values()].some((m) => m.kind === 'transcode'), 'transcodes')
  })
})
