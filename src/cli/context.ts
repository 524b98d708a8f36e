/**
 * What every command gets from the outside world, passed in so tests run commands in-process with
 * their own streams and environment.
 */
import { readFile } from 'node:fs/promises'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import type { Env } from '../flickr/index.js'
import { errorMessage } from '../util/abort.js'

export interface CliIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  stdin?: NodeJS.ReadableStream
  env?: Env
}

export function envOf(io: CliIo): Env {
  return io.env ?? process.env
}

export function isTty(stream: NodeJS.WritableStream): boolean {
  return (stream as NodeJS.WriteStream).isTTY === true
}

/** A positive whole number from a flag, or a clear usage error naming the flag. */
export function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < 1) throw new FlickrfsError('USAGE', `${flag} takes a whole number of at least 1, got "${value}".`)
    return n
  }
}

/** `--cookies FILE`: the web session cookies (cookie_accid, cookie_epass) that let video originals through. */
export async function readCookies(file: string | undefined, env: Env): Promise<string | undefined> {
  const path = file ?? env.FLICKRFS_COOKIES_FILE
  if (!path) return undefined
  try {
    const text = (await readFile(path, 'utf8')).trim()
    if (!/cookie_accid=/.test(text) || !/cookie_epass=/.test(text)) {
      throw new FlickrfsError('USAGE', `${path} should hold "cookie_accid=…; cookie_epass=…" copied from a browser signed in to Flickr.`)
    }
    return text.replace(/\s*\n\s*/g, '; ')
  } catch (err) {
    if (err instanceof FlickrfsError) throw err
    throw new FlickrfsError('USAGE', `Cannot read the cookies file ${path}: ${errorMessage(err)}`, { cause: err })
  }
}
