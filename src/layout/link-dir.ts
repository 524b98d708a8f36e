/**
 * Set directories and `Not in any set/` without their links held: each one's numbered links are
 * made when the directory is first read, from the catalog view, and kept in an LRU shared by the whole
 * layout and bounded by link count. At 100,000 photos in 2,000 sets the eager tree held ~100k+
 * link nodes (their names, targets and Map entries) for directories nobody opened.
 *
 * A link is a pure function of the catalog and the options (photostream-dir.ts decides which
 * photos are shown, with which file name and mtime), so a directory made again after it left the
 * cache lists the same names, inodes, targets and mtimes. The directory's own mtime, and every
 * link's inode number, are settled by the build (which hashes every path once, as before).
 */
import { LRUCache } from 'lru-cache'
import type { SetEntry } from '../catalog/types.js'
import { fnvUpdate, inoFromState } from './inodes.js'
import { numberedName } from './names.js'
import { LinkNode, OnDemandDir } from './nodes.js'
import type { PhotostreamChildren } from './photostream-dir.js'
import type { LayoutNode } from './types.js'

/** Links a layout keeps made, over all its set directories, by default. */
export const DEFAULT_LINK_CACHE = 20_000

/**
 * Made link lists of one layout, by directory; bounded by their total entry count. The bound is
 * raised to the largest directory's, so that any one directory stays made while it is in use: a
 * directory that could never be kept would be made whole again at every lookup in it (Not in any
 * set/ may hold most of an account's photos).
 */
export class LinkCache {
  #maxLinks: number
  #lru: LRUCache<LinkDir, ReadonlyMap<string, LayoutNode>> | undefined
  constructor(maxLinks: number) {
    this.#maxLinks = Math.max(1, maxLinks)
  }

  /** Build only, before any directory is read: room for a directory of `entries` entries. */
  fit(entries: number): void {
    this.#maxLinks = Math.max(this.#maxLinks, entries)
  }

  get maxLinks(): number {
    return this.#maxLinks
  }

  /** Forgets `dir`'s made links (LinkDir.release). */
  forget(dir: LinkDir): void {
    this.#lru?.delete(dir)
  }

  /** The made links of `dir`, made now if not kept. */
  of(dir: LinkDir, make: () => ReadonlyMap<string, LayoutNode>): ReadonlyMap<string, LayoutNode> {
    const lru = (this.#lru ??= new LRUCache<LinkDir, ReadonlyMap<string, LayoutNode>>({ maxSize: this.#maxLinks, sizeCalculation: (m) => Math.max(1, m.size) }))
    let made = lru.get(dir)
    if (made === undefined) {
      made = make()
      lru.set(dir, made)
    }
    return made
  }
}

/** What a link directory lists: a set's shown members in album order, or the shown photos of no set. */
export type LinkPlan = { readonly set: SetEntry } | { readonly notInSet: Uint32Array }

/** A directory of links into photostream/ (see the header); `fixed` holds its metadata, listed first. */
export class LinkDir extends OnDemandDir {
  #photostream: PhotostreamChildren | undefined
  #plan: LinkPlan | undefined
  #cache: LinkCache | undefined
  #count = 0
  #moved: Map<string, number> | undefined

  /** Called once by the build: what to list, from where, and how many links that is. */
  plan(plan: LinkPlan, count: number, photostream: PhotostreamChildren, cache: LinkCache): void {
    this.#plan = plan
    this.#count = count
    this.#photostream = photostream
    this.#cache = cache
    cache.fit(this.fixed.size + count)
  }

  get children(): ReadonlyMap<string, LayoutNode> {
    return (this.#cache as LinkCache).of(this, () => this.#make())
  }

  release(): void {
    this.#cache?.forget(this)
  }

  /** Links listed (the metadata file aside). */
  get linkCount(): number {
    return this.#count
  }

  nameAt(pos: number): string {
    const plan = this.#plan
    if (plan !== undefined && 'notInSet' in plan) return (this.#photostream as PhotostreamChildren).fileAt(plan.notInSet[pos] as number).fileName
    let i = 0
    for (const [name] of this.#links()) if (i++ === pos) return name
    throw new Error(`no link ${pos} in ${this.path}`)
  }

  moveIno(name: string, ino: number): void {
    ;(this.#moved ??= new Map()).set(name, ino)
  }

  #make(): Map<string, LayoutNode> {
    const out = new Map<string, LayoutNode>(this.fixed)
    const state = fnvUpdate(this.fnv, '/')
    for (const [name, mtimeMs, target] of this.#links()) {
      const link = new LinkNode(name, mtimeMs, target)
      link.ino = this.#moved?.get(name) ?? inoFromState(fnvUpdate(state, name))
      out.set(name, link)
    }
    return out
  }

  /** Name, mtime and target of each link, in order. */
  *#links(): Generator<[string, number, string]> {
    const plan = this.#plan
    const photostream = this.#photostream
    if (plan === undefined || photostream === undefined) throw new Error(`${this.path} read before its build finished`)
    if ('set' in plan) {
      const members = plan.set.photoIds.map((id) => photostream.shownFile(id)).filter((f) => f !== undefined)
      let i = 0
      for (const f of members) yield [numberedName(++i, members.length, f.fileName), f.mtimeMs, f.target]
    } else {
      for (const k of plan.notInSet) {
        const f = photostream.fileAt(k)
        yield [f.fileName, f.mtimeMs, f.target]
      }
    }
  }
}
