/**
 * What every command gets from the outside world, passed in so tests run commands in-process with
 * their own streams and environment.
 */
import { readFile, stat } from 'node:fs/promises'
import { FlickrfsError } from '../errors/flickrfs-error.js'
import type { Env } from '../flickr/index.js'
import { errorMessage } from '../util/abort.js'
import { errnoCode } from '../util/fs-errors.js'

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
export function positiveInt(flag: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < 1) throw new FlickrfsError('USAGE', `${flag} takes a whole number of at least 1, got "${value}".`)
    if (n > max) throw new FlickrfsError('USAGE', `${flag} takes a whole number of at most ${max}, got "${value}".`)
    return n
  }
}

/**
 * `--cookies FILE`: the web session cookies (cookie_accid, cookie_epass) that let video originals
 * through. They are as good as the user's Flickr password, so a file other users can read gets a
 * warning (through `warn`, one line).
 */
export async function readCookies(file: string | undefined, env: Env, warn?: (line: string) => void): Promise<string | undefined> {
  const path = file ?? env.FLICKRFS_COOKIES_FILE
  if (!path) return undefined
  try {
    const mode = (await stat(path)).mode & 0o777
    if ((mode & 0o077) !== 0) {
      warn?.(`Warning: the cookies file ${path} can be read by ${(mode & 0o007) !== 0 ? 'every user' : 'its group'} ` +
        `(mode ${mode.toString(8).padStart(4, '0')}); it holds your Flickr login. Run: chmod 600 ${path}\n`)
    }
    const text = (await readFile(path, 'utf8')).trim()
    if (!/cookie_accid=/.test(text) || !/cookie_epass=/.test(text)) {
      throw new FlickrfsError('USAGE', `${path} should hold "cookie_accid=…; cookie_epass=…" copied from a browser signed in to Flickr.`)
    }
    return text.replace(/\s*\n\s*/g, '; ')
  } catch (err) {
    if (err instanceof FlickrfsError) throw err
    const from = file !== undefined ? '--cookies' : 'FLICKRFS_COOKIES_FILE'
    const what = errnoCode(err) === 'ENOENT' ? 'there is no such file' : errorMessage(err)
    throw new FlickrfsError('USAGE', `Cannot read the cookies file ${path} (${from}): ${what}. Give the file that holds "cookie_accid=…; cookie_epass=…" copied from a browser signed in to Flickr, or leave ${from} out (a video whose original Flickr refuses without them is then stored as its transcode).`, { cause: err })
  }
}
