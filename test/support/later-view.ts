/**
 * A CatalogView as a catalog over rows on disk serves it (schema 3): a photo's `record` and
 * `comments` come a turn later (promises), its sidecar's size as a save stores it (the layout's
 * sidecar sizer), everything else is the snapshot's own answer. For the tests that hold the
 * layout, fs/ and pin/ to records that are not in hand at once.
 */
import { mediaKey, snapshotView, type CatalogSnapshot, type CatalogView } from '../../src/catalog/index.js'
import { photoSidecarSizer } from '../../src/layout/index.js'

/** A stored sidecar size: `(id, ignoreViews) → bytes`, undefined when none is stored. */
export type SidecarSizes = (id: string, ignoreViews: boolean) => number | undefined

/** A view whose records come later; `asked` counts its `record` calls (each one a query over rows). */
export type LaterView = CatalogView & { readonly asked: number }

/** `snap` as rows on disk would serve it: records and comments a turn later, sizes as stored (`sizes`). */
export function laterView(snap: CatalogSnapshot, sizes: SidecarSizes = savedSizes(snap)): LaterView {
  const now = snapshotView(snap)
  const later = <T>(value: T): Promise<T> => new Promise((resolve) => setImmediate(() => resolve(value)))
  const counts = { asked: 0 }
  const own: Partial<CatalogView> = {
    record: (id) => (counts.asked++, later(snap.photos.get(id))),
    comments: (id) => later(snap.comments.get(id)),
    sidecarSize: sizes,
  }
  // Everything else is the snapshot's answer, asked of the snapshot view itself.
  return new Proxy(now, {
    get(target, prop) {
      if (prop === 'asked') return counts.asked
      if (prop in own) return own[prop as keyof CatalogView]
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  }) as LaterView
}

/** The sizes a save stores for `snap`: the layout's sizer, for each photo with its current original. */
export function savedSizes(snap: CatalogSnapshot): SidecarSizes {
  return (id, ignoreViews) => {
    const photo = snap.photos.get(id)
    const media = photo && snap.media.get(mediaKey(id, photo.secret))
    if (photo === undefined || media === undefined) return undefined
    return photoSidecarSizer.sizes(photo, media, snap.comments.get(id))[ignoreViews ? 1 : 0]
  }
}
