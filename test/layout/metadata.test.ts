import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { collectionMetadata, jsonBytes, photoMetadata, photostreamMetadata, setMetadata } from '../../src/layout/index.js'
import { collectionEntry, mediaEntry, photoEntry, setEntry } from './fixture.js'

void describe('metadata builders', () => {
  void it('jsonBytes is 2-space JSON plus a newline, in UTF-8', () => {
    assert.equal(jsonBytes({ a: ['é'] }).toString('utf8'), '{\n  "a": [\n    "é"\n  ]\n}\n')
    assert.equal(jsonBytes({ a: 'é' }).length, Buffer.byteLength('{\n  "a": "é"\n}\n'))
  })
  void it('photoMetadata keeps the record order and puts comments and flickrfs last, replacing any same-named fields', () => {
    const photo = photoEntry({ id: '5', raw: { flickrfs: 'spoof', id: '5', comments: 'spoof', views: '3', title: 't' } })
    const out = photoMetadata({ photo, media: mediaEntry(photo, { size: 10 }), comments: [{ id: 'c' }] })
    assert.deepEqual(Object.keys(out), ['id', 'views', 'title', 'comments', 'flickrfs'])
    assert.deepEqual(out.comments, [{ id: 'c' }])
    assert.deepEqual(out.flickrfs, { size: 10 })
  })
  void it('photoMetadata leaves out empty comments, and views under ignoreViews', () => {
    const photo = photoEntry({ id: '5' })
    const out = photoMetadata({ photo, media: mediaEntry(photo), comments: [], ignoreViews: true })
    assert.ok(!('comments' in out) && !('views' in out))
  })
  void it('photoMetadata reports a transcode, and never a hash (those are in SHA256SUMS)', () => {
    const photo = photoEntry({ id: '6', media: 'video' })
    const media = mediaEntry(photo, { kind: 'transcode', label: 'Site MP4', ext: 'mp4', size: 77 })
    const out = photoMetadata({ photo, media })
    assert.deepEqual(out.flickrfs, { size: 77, video: 'transcode', label: 'Site MP4' })
    assert.deepEqual(Object.keys(out.flickrfs as object), ['size', 'video', 'label'])
  })
  void it('photostreamMetadata, setMetadata and collectionMetadata', () => {
    assert.deepEqual(photostreamMetadata(['3', '2']), { photos: ['3', '2'] })
    const set = setEntry('10', 'T', ['2', '1'], 0, { id: '10', photos: 2, videos: 0, title: { _content: 'T' } })
    assert.deepEqual(Object.entries(setMetadata(set)), [
      ['id', '10'],
      ['photos', ['2', '1']],
      ['videos', 0],
      ['title', { _content: 'T' }],
    ])
    const c = collectionEntry('1-1', 'C', ['10'], [collectionEntry('1-2', 'K', [])])
    assert.deepEqual(collectionMetadata(c), { id: '1-1', title: 'C', description: '', iconlarge: '/images/x.gif', set: ['10'], collection: ['1-2'] })
  })
})
