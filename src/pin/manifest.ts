/**
 * What pin wrote into DEST, so the next run removes only its own stale entries and never a file
 * the user put there; and, for each sidecar, the version of its content and its lstat when pin
 * wrote or read it (write-tree.ts trusts it unread while both are the same).
 *
 * On disk: DEST/.flickrfs/manifest, replaced atomically (after the tree). At a million photos it
 * names two million photostream/ entries, so it is never an object per entry, neither read nor
 * made: the file is read into one buffer (outside the V8 heap) and looked up in place through an
 * index of offsets and a hash table of typed arrays; the next one is written as the tree is
 * walked (ManifestWriter), one small buffer at a time, into .flickrfs/tmp/manifest.part, renamed
 * over the last one at the end. Layout of the file:
 *
 *   MAGIC, then per photostream/ entry: u16 name length, the name (UTF-8), u8 flags (bits 0-1 the
 *   kind, bit 2 an id of its own follows as u16 length + UTF-8, else the id is the one the name
 *   gives; bit 3 a sidecar record follows: i32 version index, f64 ino, size, mtimeMs, ctimeMs),
 *   then a JSON trailer (top-level folders, the version table, the entry count, the folder
 *   seals), its u32 length, and END.
 *
 * A folder seal (FolderSeal) says that a folder of links (a set, a collection, "Not in any set")
 * held exactly the entries of one digest (write-tree.ts linksDigest) when it had the lstat it
 * records: the next whole run then takes its links as they are, unread (write-tree.ts
 * #syncManagedDir). A manifest without seals (an earlier flickrfs's) seals nothing.
 *
 * Earlier flickrfs kept it in DEST/.flickrfs/manifest.json (JSON, version 1): read when there is no
 * new file, and removed by the next pin once it has written the new one. An older flickrfs does not
 * know the new file: it finds no manifest.json, so it removes nothing (safe: stale entries stay).
 */
import { lstat, readFile } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import { isEnoent } from '../util/fs-errors.js'
import { Confined } from '../util/confine.js'
import { writeFullySync } from '../util/fs.js'
import { legacyManifestPath, manifestPath, STATE_DIR_NAME, STATE_REL } from '../util/state-paths.js'
import { parseMediaFileName, parseSidecarName } from '../layout/names.js'

export interface ManifestEntry {
  kind: 'photo' | 'set' | 'collection'
  id: string
  /** A photostream/ sidecar's record (see CheckedFile). */
  c?: CheckedFile
}

/** [version index, ino, size, mtimeMs, ctimeMs]: the index is into Manifest.sidecarVersions. */
export type CheckedFile = [version: number, ino: number, size: number, mtimeMs: number, ctimeMs: number]

/** A folder's lstat (ino, mtime, ctime) when it held exactly the entries of `digest`. */
export type FolderSeal = [ino: number, mtimeMs: number, ctimeMs: number, digest: string]

/** The JSON manifest of flickrfs before this form (DEST/.flickrfs/manifest.json). */
interface LegacyManifest {
  version: 1
  top: Record<string, ManifestEntry>
  photostream: Record<string, ManifestEntry>
  sidecarVersions?: string[]
}

const KINDS = ['photo', 'set', 'collection'] as const
const KIND_MASK = 0b11
const OWN_ID = 0b100
const RECORD = 0b1000
const RECORD_BYTES = 4 + 4 * 8
const MAGIC = Buffer.from('flickrfs manifest 2\n')
const END = Buffer.from('\nend')
/** The bytes a writer gathers before it writes them out. */
const WRITE_CHUNK = 1024 * 1024

interface Trailer {
  top: Record<string, ManifestEntry>
  sidecarVersions: string[]
  count: number
  /** Folder seals by path relative to DEST; absent in a manifest of an earlier flickrfs. */
  seals?: Record<string, FolderSeal>
}

/** A seal as a trailer holds it, or undefined when it is not one (a damaged or foreign value seals nothing). */
function sealOf(value: unknown): FolderSeal | undefined {
  if (!Array.isArray(value) || value.length !== 4) return undefined
  const [ino, mtimeMs, ctimeMs, digest] = value as unknown[]
  if (typeof ino !== 'number' || typeof mtimeMs !== 'number' || typeof ctimeMs !== 'number' || typeof digest !== 'string') return undefined
  return [ino, mtimeMs, ctimeMs, digest]
}

/** The UTF-8 length of `s`: its length when it is ASCII (every name of photostream/ but a user's), without a call into C++. */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s)
  return s.length
}

/** Writes `s` of `bytes` UTF-8 bytes at `p`: an ASCII name byte by byte (a Buffer.write per name costs ~1 µs). */
function writeUtf8(b: Buffer, p: number, s: string, bytes: number): number {
  if (bytes !== s.length) return p + b.write(s, p, 'utf8')
  for (let i = 0; i < bytes; i++) b[p + i] = s.charCodeAt(i)
  return p + bytes
}

/** The id an entry of photostream/ has by its name (an original's or a sidecar's); the name itself otherwise. */
export function idOfName(name: string): string {
  return (parseMediaFileName(name) ?? parseSidecarName(name))?.id ?? name
}

function fnv1a(bytes: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193)
  return h >>> 0
}

/** A name encoded for a lookup, reused: a lookup per sidecar makes no garbage. */
let scratch = Buffer.alloc(1024)

/** The manifest the last pin wrote, read in place (see the file's comment). */
export class Manifest {
  readonly top: Readonly<Record<string, ManifestEntry>>
  readonly sidecarVersions: readonly string[]
  /** photostream/ entries. */
  readonly size: number
  /**
   * Read from the JSON of an earlier flickrfs, or read with one still beside it (a pin killed
   * between putting this file in place and removing that one): the next pin writes the manifest
   * whatever else happens, which removes the JSON.
   */
  readonly rewrite: boolean
  /** Folder seals by path relative to DEST (see the file's comment). */
  readonly seals: Readonly<Record<string, FolderSeal>>
  readonly #bytes: Buffer
  /** Where each entry starts in #bytes. */
  readonly #at: Uint32Array
  /** Entry index + 1 by hash of its name (0: empty slot), open addressing. */
  readonly #slots: Int32Array

  private constructor(bytes: Buffer, trailer: Trailer, at: Uint32Array, rewrite: boolean) {
    this.#bytes = bytes
    this.top = trailer.top
    this.sidecarVersions = trailer.sidecarVersions
    this.size = trailer.count
    this.rewrite = rewrite
    const seals: Record<string, FolderSeal> = {}
    if (typeof trailer.seals === 'object' && trailer.seals !== null) {
      for (const [dir, value] of Object.entries(trailer.seals)) {
        const seal = sealOf(value)
        if (seal !== undefined) seals[dir] = seal
      }
    }
    this.seals = seals
    this.#at = at
    let slots = 16
    while (slots < this.size * 1.5) slots *= 2
    this.#slots = new Int32Array(slots)
    for (let i = 0; i < this.size; i++) {
      const start = (at[i] as number) + 2
      this.#place(fnv1a(bytes, start, start + bytes.readUInt16LE(start - 2)), i)
    }
  }

  static empty(): Manifest {
    return Manifest.fromBytes(new ManifestWriter(undefined).bytes(), 'an empty manifest')
  }

  /** Reads the bytes of a manifest file (`what` names it in errors). */
  static fromBytes(bytes: Buffer, what: string, rewrite = false): Manifest {
    if (bytes.length < MAGIC.length + END.length + 4 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new FlickrfsError('DEST', `${what} is not a flickrfs manifest of a version this flickrfs knows. Move it away and run again.`)
    }
    if (!bytes.subarray(bytes.length - END.length).equals(END)) throw damaged(what)
    const trailerLength = bytes.readUInt32LE(bytes.length - END.length - 4)
    const trailerStart = bytes.length - END.length - 4 - trailerLength
    if (trailerStart < MAGIC.length) throw damaged(what)
    let trailer: Trailer
    try {
      trailer = JSON.parse(bytes.toString('utf8', trailerStart, trailerStart + trailerLength)) as Trailer
    } catch (err) {
      throw damaged(what, err)
    }
    if (typeof trailer.top !== 'object' || !Array.isArray(trailer.sidecarVersions) || !Number.isSafeInteger(trailer.count)) throw damaged(what)
    const at = new Uint32Array(trailer.count)
    let p = MAGIC.length
    for (let i = 0; i < trailer.count; i++) {
      // Each entry's lengths are checked against the trailer's start before they are read.
      if (p + 3 > trailerStart) throw damaged(what)
      at[i] = p
      p += 2 + bytes.readUInt16LE(p)
      if (p + 1 > trailerStart) throw damaged(what)
      const flags = bytes[p++] as number
      if ((flags & OWN_ID) !== 0) {
        if (p + 2 > trailerStart) throw damaged(what)
        p += 2 + bytes.readUInt16LE(p)
      }
      if ((flags & RECORD) !== 0) p += RECORD_BYTES
      if (p > trailerStart) throw damaged(what)
    }
    if (p !== trailerStart) throw damaged(what)
    return new Manifest(bytes, trailer, at, rewrite)
  }

  #place(hash: number, i: number): void {
    const mask = this.#slots.length - 1
    let s = hash & mask
    while (this.#slots[s] !== 0) s = (s + 1) & mask
    this.#slots[s] = i + 1
  }

  /** The index of the photostream/ entry `name`, or -1. */
  find(name: string): number {
    if (scratch.length < name.length * 3) scratch = Buffer.alloc(name.length * 3)
    const length = writeUtf8(scratch, 0, name, utf8Length(name))
    const mask = this.#slots.length - 1
    const bytes = this.#bytes
    for (let s = fnv1a(scratch, 0, length) & mask; ; s = (s + 1) & mask) {
      const i = (this.#slots[s] as number) - 1
      if (i < 0) return -1
      const start = this.#at[i] as number
      if (bytes.readUInt16LE(start) === length && bytes.compare(scratch, 0, length, start + 2, start + 2 + length) === 0) return i
    }
  }

  has(name: string): boolean {
    return this.find(name) !== -1
  }

  name(i: number): string {
    const start = this.#at[i] as number
    return this.#bytes.toString('utf8', start + 2, start + 2 + this.#bytes.readUInt16LE(start))
  }

  /** Where entry i's flags are. */
  #flagsAt(i: number): number {
    const start = this.#at[i] as number
    return start + 2 + this.#bytes.readUInt16LE(start)
  }

  kind(i: number): ManifestEntry['kind'] {
    return KINDS[(this.#bytes[this.#flagsAt(i)] as number) & KIND_MASK] ?? 'photo'
  }

  id(i: number): string {
    const p = this.#flagsAt(i)
    if (((this.#bytes[p] as number) & OWN_ID) === 0) return idOfName(this.name(i))
    return this.#bytes.toString('utf8', p + 3, p + 3 + this.#bytes.readUInt16LE(p + 1))
  }

  /** Entry i's sidecar record, if it has one. */
  record(i: number): CheckedFile | undefined {
    let p = this.#flagsAt(i)
    const flags = this.#bytes[p++] as number
    if ((flags & RECORD) === 0) return undefined
    if ((flags & OWN_ID) !== 0) p += 2 + this.#bytes.readUInt16LE(p)
    const b = this.#bytes
    return [b.readInt32LE(p), b.readDoubleLE(p + 4), b.readDoubleLE(p + 12), b.readDoubleLE(p + 20), b.readDoubleLE(p + 28)]
  }

  /** Entry i as an object (for tests and small tools; a run reads the columns above). */
  entry(i: number): ManifestEntry {
    const c = this.record(i)
    return c === undefined ? { kind: this.kind(i), id: this.id(i) } : { kind: this.kind(i), id: this.id(i), c }
  }
}

function damaged(what: string, cause?: unknown): FlickrfsError {
  return new FlickrfsError('DEST', `${what} is damaged. Remove it and run again (entries flickrfs wrote earlier will then be left in place).`, cause === undefined ? undefined : { cause })
}

/**
 * The next manifest, entry by entry in the order write-tree meets them: to .flickrfs/tmp/manifest.part
 * a chunk at a time (`open`), or kept in memory (no `dest`: tests, and the conversion of a JSON
 * manifest). `commit` puts it in place; `discard` drops it (nothing changed).
 */
export class ManifestWriter {
  /** Top-level folders by name (sets, collections, Not in any set): a few thousand, kept as objects. */
  readonly top: Record<string, ManifestEntry> = {}
  /** Folder seals by path relative to DEST, as the tree is written (write-tree.ts). */
  readonly seals: Record<string, FolderSeal> = {}
  readonly #versions = new Map<string, number>()
  readonly #file: { dest: Confined; handle: FileHandle } | undefined
  readonly #kept: Buffer[] = []
  #chunk = Buffer.allocUnsafe(WRITE_CHUNK)
  #used = 0
  #count = 0

  constructor(file: { dest: Confined; handle: FileHandle } | undefined) {
    this.#file = file
    this.#put(MAGIC)
  }

  /** A writer into DEST's temp folder (a part file left by a killed run is overwritten). */
  static async open(dest: string): Promise<ManifestWriter> {
    const confined = await Confined.open(dest)
    return new ManifestWriter({ dest: confined, handle: await confined.openForWrite(STATE_REL.manifestPart) })
  }

  /** The index of `version` in this manifest's table, added when new (tables in order of first use). */
  versionIndex(version: string): number {
    let v = this.#versions.get(version)
    if (v === undefined) this.#versions.set(version, (v = this.#versions.size))
    return v
  }

  get sidecarVersions(): string[] {
    return [...this.#versions.keys()]
  }

  get size(): number {
    return this.#count
  }

  /** A photostream/ entry. */
  add(name: string, kind: ManifestEntry['kind'], id: string, c?: CheckedFile): void {
    const nameBytes = utf8Length(name)
    const ownId = kind !== 'photo' || id !== idOfName(name)
    const idBytes = ownId ? utf8Length(id) : 0
    const size = 2 + nameBytes + 1 + (ownId ? 2 + idBytes : 0) + (c === undefined ? 0 : RECORD_BYTES)
    if (this.#used + size > this.#chunk.length) this.#flush(size)
    const b = this.#chunk
    let p = this.#used
    p = b.writeUInt16LE(nameBytes, p)
    p = writeUtf8(b, p, name, nameBytes)
    p = b.writeUInt8(KINDS.indexOf(kind) | (ownId ? OWN_ID : 0) | (c === undefined ? 0 : RECORD), p)
    if (ownId) {
      p = b.writeUInt16LE(idBytes, p)
      p = writeUtf8(b, p, id, idBytes)
    }
    if (c !== undefined) {
      p = b.writeInt32LE(c[0], p)
      for (let k = 1; k < 5; k++) p = b.writeDoubleLE(c[k] as number, p)
    }
    this.#used = p
    this.#count++
  }

  #put(bytes: Buffer): void {
    if (this.#used + bytes.length > this.#chunk.length) this.#flush(bytes.length)
    this.#used += bytes.copy(this.#chunk, this.#used)
  }

  /** Writes out (or keeps) what is gathered, so that `room` more bytes fit. */
  #flush(room: number): void {
    const full = this.#chunk.subarray(0, this.#used)
    if (this.#file === undefined) {
      this.#kept.push(Buffer.from(full))
    } else {
      // At once, as write-tree's checks: a megabyte into the page cache costs less than a thread-pool round trip.
      writeFullySync(this.#file.handle.fd, full)
    }
    this.#used = 0
    if (this.#chunk.length < room) this.#chunk = Buffer.allocUnsafe(room)
  }

  #finish(): void {
    const trailer = Buffer.from(JSON.stringify({ top: this.top, sidecarVersions: this.sidecarVersions, count: this.#count, seals: this.seals } satisfies Trailer))
    const length = Buffer.alloc(4)
    length.writeUInt32LE(trailer.length)
    for (const part of [trailer, length, END]) this.#put(part)
    this.#flush(0)
  }

  /** An in-memory writer's bytes, finished. */
  bytes(): Buffer {
    if (this.#file !== undefined) throw new FlickrfsError('INTERNAL', 'a manifest written to a file has no bytes in memory')
    this.#finish()
    return Buffer.concat(this.#kept)
  }

  /** An in-memory writer's manifest, as the next run reads it. */
  manifest(): Manifest {
    return Manifest.fromBytes(this.bytes(), 'the manifest made')
  }

  /**
   * Puts the manifest in place (fsync, rename over the last one, fsync of the folder), then removes
   * an earlier flickrfs's manifest.json: killed between the two, the new file is the one read.
   */
  async commit(): Promise<void> {
    const file = this.#file
    if (file === undefined) throw new FlickrfsError('INTERNAL', 'an in-memory manifest cannot be committed')
    this.#finish()
    await file.handle.sync()
    await file.handle.close()
    await file.dest.rename(STATE_REL.manifestPart, STATE_REL.manifest)
    await file.dest.unlink(STATE_REL.legacyManifest)
    await file.dest.fsyncDir(STATE_DIR_NAME)
  }

  /** Drops the part file (the manifest did not change). */
  async discard(): Promise<void> {
    if (this.#file === undefined) return
    await this.#file.handle.close().catch(() => undefined)
    await this.#file.dest.unlink(STATE_REL.manifestPart)
  }
}

/** `dest`: the pin destination; the manifest is in its state folder. */
export async function readManifest(dest: string): Promise<Manifest> {
  const path = manifestPath(dest)
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    if (isEnoent(err)) return readLegacyManifest(dest)
    throw damaged(path, err)
  }
  const legacyBeside = await lstat(legacyManifestPath(dest)).then(() => true, () => false)
  return Manifest.fromBytes(bytes, path, legacyBeside)
}

/** The JSON manifest of an earlier flickrfs, in this form; empty when there is none either. */
async function readLegacyManifest(dest: string): Promise<Manifest> {
  const path = legacyManifestPath(dest)
  let parsed: LegacyManifest
  try {
    parsed = JSON.parse(await readFile(path, 'utf8')) as LegacyManifest
  } catch (err) {
    if (isEnoent(err)) return Manifest.empty()
    throw damaged(path, err)
  }
  if (parsed.version !== 1 || typeof parsed.top !== 'object' || typeof parsed.photostream !== 'object') {
    throw new FlickrfsError('DEST', `${path} is not a flickrfs manifest of a version this flickrfs knows. Move it away and run again.`)
  }
  const writer = new ManifestWriter(undefined)
  Object.assign(writer.top, parsed.top)
  // Only an optimisation (a sidecar whose record is unusable is read again): anything else is dropped.
  const versions = Array.isArray(parsed.sidecarVersions) ? parsed.sidecarVersions.map(String) : []
  versions.forEach((v) => writer.versionIndex(v))
  for (const [name, e] of Object.entries(parsed.photostream)) {
    // A name no file can have was never written by pin.
    if (Buffer.byteLength(name) > 4096) continue
    const c = usableRecord(e.c, versions.length)
    writer.add(name, KINDS.includes(e.kind) ? e.kind : 'photo', String(e.id), c)
  }
  return Manifest.fromBytes(writer.bytes(), path, true)
}

/** A JSON record that can be trusted as a record at all (five numbers, an index into the table). */
function usableRecord(c: unknown, versions: number): CheckedFile | undefined {
  if (!Array.isArray(c) || c.length !== 5 || !c.every((n) => typeof n === 'number')) return undefined
  const v = c[0] as number
  return Number.isInteger(v) && v >= 0 && v < versions ? (c as CheckedFile) : undefined
}
